#include <catch2/catch.hpp>

#include <string>

#include "qsafe/io/manifest.hpp"

using qsafe::io::LayerKind;
using qsafe::io::ManifestError;
using qsafe::io::parse_manifest;

namespace {
std::string error_of(const std::string& text) {
  try {
    parse_manifest(text, "dir/model.txt");
  } catch (const ManifestError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("manifest: the issue's example parses", "[io][manifest]") {
  const std::string text =
      "# a comment\n"
      "input shape=1,8,8\n"
      "conv2d name=conv1 weight=conv1.weight.npy bias=conv1.bias.npy stride=1 padding=1\n"
      "relu name=relu1   # trailing comment\n"
      "\n"
      "maxpool2d kernel=2 stride=2\n"
      "flatten\n"
      "linear name=fc1 weight=fc1.weight.npy bias=fc1.bias.npy\n";
  const auto m = parse_manifest(text, "dir/model.txt");
  REQUIRE(m.layers.size() == 6);
  CHECK(m.layers[0].kind == LayerKind::input);
  CHECK(m.layers[0].shape == std::vector<std::int64_t>{1, 8, 8});
  CHECK(m.layers[1].kind == LayerKind::conv2d);
  CHECK(m.layers[1].name == "conv1");
  CHECK(m.layers[1].line == 3);
  CHECK(m.layers[1].weight_path == "dir/conv1.weight.npy");
  CHECK(m.layers[1].bias_path == "dir/conv1.bias.npy");
  CHECK(m.layers[1].pad_top == 1);
  CHECK(m.layers[1].pad_right == 1);
  CHECK(m.layers[3].kind == LayerKind::maxpool2d);
  CHECK(m.layers[3].name == "maxpool2d3");
  CHECK(m.layers[3].kernel_h == 2);
  CHECK(m.layers[3].stride_w == 2);
  CHECK(m.layers[5].bias_path == "dir/fc1.bias.npy");
  CHECK(m.where(m.layers[5]) == "dir/model.txt:8");
}

TEST_CASE("manifest: every option and key order", "[io][manifest]") {
  const auto m = parse_manifest(
      "input shape=3,9,9\n"
      "conv2d groups=3 padding=0,1,2,3 dilation=2,1 stride=2 weight=/abs/w.npy name=c\n"
      "relu6\n"
      "avgpool2d kernel=3\n"
      "add from=c\n"
      "globalavgpool\n"
      "softmax name=prob\n",
      "m.txt");
  REQUIRE(m.layers.size() == 7);
  const auto& c = m.layers[1];
  CHECK(c.weight_path == "/abs/w.npy");
  CHECK(c.bias_path.empty());
  CHECK(c.groups == 3);
  CHECK(c.pad_top == 0);
  CHECK(c.pad_left == 1);
  CHECK(c.pad_bottom == 2);
  CHECK(c.pad_right == 3);
  CHECK(c.dilation_h == 2);
  CHECK(c.dilation_w == 1);
  CHECK(c.stride_h == 2);
  CHECK(m.layers[3].stride_h == 3);  // pooling stride defaults to the kernel, as PyTorch
  CHECK(m.layers[4].from == "c");
  CHECK(m.layers[6].name == "prob");
}

TEST_CASE("manifest: errors name the file, the line and the problem", "[io][manifest]") {
  CHECK(error_of("") == "dir/model.txt: no layers (expected 'input shape=...' first)");
  CHECK(error_of("relu\n") == "dir/model.txt:1: relu: the first layer must be 'input shape=...'");
  CHECK(error_of("input shape=1,8,8\nconv3d weight=a.npy\n") == "dir/model.txt:2: unknown layer kind 'conv3d'");
  CHECK(error_of("input shape=1,8,8\nconv2d weight=a.npy strid=2\n") == "dir/model.txt:2: conv2d: unknown key 'strid'");
  CHECK(error_of("input shape=1,8,8\nconv2d stride=2\n") == "dir/model.txt:2: conv2d: missing weight=");
  CHECK(error_of("input shape=1,8,8\nconv2d weight=a.npy stride=0\n") ==
        "dir/model.txt:2: stride must be >= 1, got '0'");
  CHECK(error_of("input shape=1,8,8\nconv2d weight=a.npy stride=x\n") == "dir/model.txt:2: bad value for stride: 'x'");
  CHECK(error_of("input shape=1,8,8\nconv2d weight=a.npy padding=1,2,3\n") ==
        "dir/model.txt:2: conv2d: padding takes 1, 2 (h,w) or 4 (top,left,bottom,right) values");
  CHECK(error_of("input shape=1,8,8\nadd from=nothing\n") == "dir/model.txt:2: add: from=nothing names no earlier layer");
  CHECK(error_of("input shape=1,8,8\nrelu name=a\nrelu name=a\n") == "dir/model.txt:3: relu: duplicate layer name 'a'");
  CHECK(error_of("input shape=1,8,8\nrelu name=a name=b\n") == "dir/model.txt:2: relu: duplicate key 'name'");
  CHECK(error_of("input shape=1,8,8\nrelu junk\n") == "dir/model.txt:2: relu: expected key=value, got 'junk'");
  CHECK(error_of("input shape=1,8\n") == "dir/model.txt:1: input: shape must be C,H,W (or one feature count)");
  CHECK(error_of("input shape=1,0,8\n") == "dir/model.txt:1: input: shape dimensions must be in [1, 2^24]");
  CHECK(error_of("input shape=1,99999999999999999999,8\n") == "dir/model.txt:1: bad value for shape: '1,99999999999999999999,8'");
  CHECK(error_of("input shape=1,8,8\ninput shape=1,8,8\n") ==
        "dir/model.txt:2: input: input must be the first layer, and only once");
  CHECK(error_of("input shape=1,8,8\nmaxpool2d stride=2\n") == "dir/model.txt:2: maxpool2d: missing kernel=");
  CHECK(error_of("input shape=1,8,8\nconv2d weight=a.npy groups=0\n") ==
        "dir/model.txt:2: conv2d: groups must be one integer >= 1");
  CHECK_THROWS_AS(qsafe::io::load_manifest("/nonexistent/model.txt"), ManifestError);
}
