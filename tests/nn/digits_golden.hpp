// tests/nn/digits_golden.hpp: reading the PyTorch int8 golden data of the bundled digits CNN
// (data/digits/torch_int8/, made by scripts/models/quantize_digits_torch.py): per-tensor qparams
// and weight scales, and the uint8 tensors of every layer converted to qsafe's NHWC.
#ifndef QSAFE_TESTS_NN_DIGITS_GOLDEN_HPP_
#define QSAFE_TESTS_NN_DIGITS_GOLDEN_HPP_

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "qsafe/io/npy.hpp"
#include "support/data_paths.hpp"

namespace digits_golden {

inline const std::string kDigits = qsafe_test::kDigitsDir;
inline const std::string kGolden = kDigits + "torch_int8/";

// One line of qparams.txt: a tensor's scale and zero point, and the weight scales of its layer.
struct GoldenQ {
  float scale = 0.f;
  std::int32_t zero_point = 0;
  std::vector<float> weight_scales;
};

inline std::map<std::string, GoldenQ> read_qparams() {
  std::ifstream f(kGolden + "qparams.txt");
  REQUIRE(f);
  std::map<std::string, GoldenQ> out;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ss(line);
    std::string name, scale, w;
    GoldenQ q;
    ss >> name >> scale >> q.zero_point;
    q.scale = std::strtof(scale.c_str(), nullptr);
    while (ss >> w) q.weight_scales.push_back(std::strtof(w.c_str(), nullptr));
    out[name] = q;
  }
  return out;
}

// NCHW (or [n, features]) uint8 golden tensor -> NHWC.
inline std::vector<std::uint8_t> golden_nhwc(const std::string& name) {
  const qsafe::io::NpyArray a = qsafe::io::read_npy(kGolden + name + ".int.npy");
  REQUIRE(a.dtype() == qsafe::io::DType::uint8);
  const std::vector<std::uint8_t> v = a.to_vector<std::uint8_t>();
  if (a.rank() == 2) return v;
  const std::int64_t n = a.shape()[0], c = a.shape()[1], h = a.shape()[2], w = a.shape()[3];
  std::vector<std::uint8_t> out(v.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
          out[static_cast<std::size_t>(((b * h + y) * w + x) * c + ch)] =
              v[static_cast<std::size_t>(((b * c + ch) * h + y) * w + x)];
  return out;
}

inline std::size_t mismatches(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) n += a[i] != b[i] ? 1u : 0u;
  return n;
}

}  // namespace digits_golden

#endif  // QSAFE_TESTS_NN_DIGITS_GOLDEN_HPP_
