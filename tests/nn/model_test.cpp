#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "qsafe/io/model_loader.hpp"
#include "qsafe/io/npy.hpp"
#include "qsafe/nn/model.hpp"

using qsafe::Span;
using qsafe::Status;
namespace nn = qsafe::nn;
namespace io = qsafe::io;

namespace {
const std::string kModelDigits = std::string(QSAFE_TEST_DATA_DIR) + "/../../data/digits/";

std::string load_error(const std::string& text) {
  try {
    io::build_model(io::parse_manifest(text, kModelDigits + "model/bad.txt"));
  } catch (const io::ManifestError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("nn: the bundled digits model's float forward matches PyTorch's logits", "[nn][model]") {
  const nn::Model model = io::load_model(kModelDigits + "model/model.txt");
  REQUIRE(model.layers.size() == 12);
  CHECK(model.output_shape() == nn::ActShape{10, 1, 1, false});
  const io::NpyArray x = io::read_npy(kModelDigits + "test_x.npy");
  const io::NpyArray logits = io::read_npy(kModelDigits + "test_logits.npy");
  const std::vector<float> xs = x.to_float(), expected = logits.to_float();
  const std::int64_t n = x.shape()[0];
  nn::Activations acts;
  REQUIRE(model.forward_float(Span<const float>(xs), n, acts) == Status::ok);
  const std::vector<float>& out = acts.outputs.back();
  REQUIRE(out.size() == expected.size());
  double max_rel = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double rel = std::fabs(out[i] - expected[i]) / std::fmax(1.0, std::fabs(expected[i]));
    max_rel = std::fmax(max_rel, rel);
  }
  CHECK(max_rel < 1e-4);
}

TEST_CASE("nn: flatten follows PyTorch's NCHW order", "[nn][model]") {
  nn::Model m;
  m.input_shape = nn::ActShape{2, 2, 3, true};
  nn::Layer flat;
  flat.kind = nn::LayerKind::flatten;
  flat.name = "flat";
  m.layers.push_back(flat);
  REQUIRE(m.finalize().ok());
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(i);  // NCHW values = index
  nn::Activations a;
  REQUIRE(m.forward_float(Span<const float>(x), 1, a) == Status::ok);
  CHECK(a.outputs[0] == x);
}

TEST_CASE("nn: a manifest that does not fit its weights names the line", "[nn][model]") {
  CHECK(load_error("input shape=3,8,8\nconv2d name=c weight=conv1.weight.npy padding=1\n") ==
        kModelDigits + "model/bad.txt:2: c: weight 8x1x3x3 does not fit input 3x8x8 with groups=1 (expected [O, 3, kh, kw])");
  CHECK(load_error("input shape=1,8,8\nconv2d name=c weight=conv1.weight.npy\nflatten\nlinear name=f "
                   "weight=fc1.weight.npy\n") ==
        kModelDigits + "model/bad.txt:4: f: weight 32x256 expects 256 input features, got 288");
  CHECK(load_error("input shape=1,8,8\nlinear name=f weight=fc1.weight.npy\n") ==
        kModelDigits + "model/bad.txt:2: f: linear needs flat features, got 1x8x8 (add flatten)");
  CHECK(load_error("input shape=1,8,8\nconv2d name=c weight=conv1.weight.npy bias=fc2.bias.npy padding=1\n") ==
        kModelDigits + "model/bad.txt:2: c: bias has 10 values, expected 8");
  CHECK(load_error("input shape=1,8,8\nconv2d name=c weight=conv1.weight.npy padding=1\nadd from=c\n"
                   "conv2d name=d weight=conv2.weight.npy\nadd from=c\n") ==
        kModelDigits + "model/bad.txt:5: add4: add: shapes 16x6x6 and 8x8x8 differ");
  const std::string missing = load_error("input shape=1,8,8\nconv2d name=c weight=nothere.npy\n");
  CHECK(missing.rfind(kModelDigits + "model/bad.txt:2: c: ", 0) == 0);
  CHECK(missing.find("nothere.npy") != std::string::npos);
}
