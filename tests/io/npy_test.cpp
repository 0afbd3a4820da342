// qsafe/io/npy.hpp: files written by NumPy (tests/data/npy, made by scripts/golden/npy_files.py),
// byte-identical output to numpy.save, round trips for every dtype, and every kind of corrupt or
// unsupported input -> NpyError naming the file and the problem (never a crash, never another
// exception type).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "qsafe/io/npy.hpp"

using qsafe::io::DType;
using qsafe::io::NpyArray;
using qsafe::io::NpyError;

namespace {

const std::string kDir = std::string(QSAFE_TEST_DATA_DIR) + "/npy/";

std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The generator's pattern: element i = (i * 7) % 23 - 11 (uint8 without - 11; floats * 0.25).
double pattern(std::int64_t i, DType t) {
  const double v = static_cast<double>((i * 7) % 23);
  if (t == DType::uint8 || t == DType::uint16) return v;
  if (t == DType::float32 || t == DType::float64) return (v - 11) * 0.25;
  return v - 11;
}

// The NpyError message of parsing `bytes`, or "" if it parsed. Any other exception fails.
std::string parse_error(const std::vector<std::uint8_t>& bytes, const std::string& name = "mem.npy") {
  try {
    (void)qsafe::io::parse_npy(bytes, name);
  } catch (const NpyError& e) {
    CHECK(e.file() == name);
    CHECK(std::string(e.what()).rfind(name + ": ", 0) == 0);
    CHECK(!e.problem().empty());
    return e.problem();
  }
  return "";
}

std::vector<std::uint8_t> with_header(const std::string& dict, std::size_t data_bytes, int major = 1) {
  std::vector<std::uint8_t> f = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const std::size_t len = dict.size();
  f.push_back(static_cast<std::uint8_t>(len & 0xff));
  f.push_back(static_cast<std::uint8_t>((len >> 8) & 0xff));
  if (major != 1) {
    f.push_back(static_cast<std::uint8_t>((len >> 16) & 0xff));
    f.push_back(static_cast<std::uint8_t>((len >> 24) & 0xff));
  }
  f.insert(f.end(), dict.begin(), dict.end());
  f.resize(f.size() + data_bytes, 0);
  return f;
}


}  // namespace

TEST_CASE("npy: reads every dtype NumPy wrote", "[io][npy]") {
  const DType all[] = {DType::float32, DType::float64, DType::int8,  DType::uint8,
                       DType::int16,   DType::uint16,  DType::int32, DType::int64};
  for (DType t : all) {
    const std::string path = kDir + qsafe::io::dtype_name(t) + "_2x3.npy";
    INFO(path);
    const NpyArray a = qsafe::io::read_npy(path);
    CHECK(a.dtype() == t);
    CHECK(a.shape() == std::vector<std::int64_t>{2, 3});
    CHECK(a.numel() == 6);
    CHECK(a.byte_size() == 6 * qsafe::io::dtype_size(t));
    CHECK(a.source() == path);
    const std::vector<double> v = a.to_double();
    const std::vector<float> f = a.to_float();
    for (std::int64_t i = 0; i < 6; ++i) {
      CHECK(v[static_cast<std::size_t>(i)] == pattern(i, t));
      CHECK(f[static_cast<std::size_t>(i)] == static_cast<float>(pattern(i, t)));
    }
    // numpy.save and qsafe write the very same bytes.
    CHECK(qsafe::io::serialize_npy(a) == file_bytes(path));
  }
}

TEST_CASE("npy: typed access, shapes, scalar, empty, v2 and v3 headers", "[io][npy]") {
  const NpyArray i8 = qsafe::io::read_npy(kDir + "int8_2x3.npy");
  CHECK(i8.data<std::int8_t>()[1] == -4);  // 7 - 11
  CHECK(i8.to_vector<std::int8_t>().size() == 6);
  CHECK_THROWS_AS(i8.data<float>(), NpyError);
  CHECK_THROWS_WITH(i8.data<std::uint8_t>(), Catch::Contains("int8") && Catch::Contains("uint8"));
  const qsafe::TensorView<const std::int8_t> v = i8.view<std::int8_t>();
  CHECK(v.shape == qsafe::Shape{2, 3});

  const NpyArray s = qsafe::io::read_npy(kDir + "float32_scalar.npy");
  CHECK(s.rank() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.data<float>()[0] == -2.75f);
  const NpyArray e = qsafe::io::read_npy(kDir + "float32_empty.npy");
  CHECK(e.shape() == std::vector<std::int64_t>{0});
  CHECK(e.numel() == 0);
  CHECK(e.to_float().empty());
  const NpyArray one = qsafe::io::read_npy(kDir + "int8_5.npy");
  CHECK(one.shape() == std::vector<std::int64_t>{5});
  const NpyArray three = qsafe::io::read_npy(kDir + "float32_2x3x4.npy");
  CHECK(three.shape() == std::vector<std::int64_t>{2, 3, 4});
  CHECK(three.to_float()[23] == static_cast<float>(pattern(23, DType::float32)));
  for (const char* f : {"float32_scalar.npy", "float32_empty.npy", "int8_5.npy", "float32_2x3x4.npy"})
    CHECK(qsafe::io::serialize_npy(qsafe::io::read_npy(kDir + f)) == file_bytes(kDir + f));

  const NpyArray v2 = qsafe::io::read_npy(kDir + "int16_2x3_v2.npy");
  CHECK(v2.dtype() == DType::int16);
  CHECK(v2.to_float()[5] == static_cast<float>(pattern(5, DType::int16)));
  const NpyArray v3 = qsafe::io::read_npy(kDir + "float32_2x3_v3.npy");
  CHECK(v3.shape() == std::vector<std::int64_t>{2, 3});
  CHECK(v3.to_float()[4] == static_cast<float>(pattern(4, DType::float32)));
}

TEST_CASE("npy: round trip of every dtype through memory and through a file", "[io][npy]") {
  std::mt19937 rng(1);
  auto round_trip = [&](const NpyArray& a) {
    const NpyArray b = qsafe::io::parse_npy(qsafe::io::serialize_npy(a));
    CHECK(b.dtype() == a.dtype());
    CHECK(b.shape() == a.shape());
    REQUIRE(b.byte_size() == a.byte_size());
    CHECK(std::equal(a.bytes(), a.bytes() + a.byte_size(), b.bytes()));
  };
  const std::vector<std::vector<std::int64_t>> shapes = {{}, {0}, {1}, {7}, {3, 0, 2}, {2, 3, 4, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 2}};
  for (const auto& shape : shapes) {
    for (DType t : {DType::float32, DType::float64, DType::int8, DType::uint8, DType::int16, DType::uint16, DType::int32,
                    DType::int64}) {
      NpyArray a(t, shape);
      for (std::size_t i = 0; i < a.byte_size(); ++i) a.bytes()[i] = static_cast<std::uint8_t>(rng());
      round_trip(a);
    }
  }
  // Non-finite floats and extreme integers survive bit for bit.
  const std::vector<float> f = {0.f, -0.f, 1e-45f, 3.4e38f, std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
  round_trip(NpyArray::from_vector<float>({7}, f));
  const std::vector<std::int64_t> big = {std::numeric_limits<std::int64_t>::min(), -1, 0, std::numeric_limits<std::int64_t>::max()};
  round_trip(NpyArray::from_vector<std::int64_t>({2, 2}, big));
  CHECK_THROWS_AS(NpyArray::from_vector<float>({2, 2}, f), NpyError);

  const std::string path = "npy_test_roundtrip.npy";  // in the test's working directory
  const std::vector<std::int16_t> s = {1, -2, 3, -32768, 32767, 0};
  qsafe::io::write_npy(path, {3, 2}, s.data());
  const NpyArray back = qsafe::io::read_npy(path);
  CHECK(back.to_vector<std::int16_t>() == s);
  CHECK(back.shape() == std::vector<std::int64_t>{3, 2});
  std::remove(path.c_str());
}

TEST_CASE("npy: unsupported files NumPy wrote are rejected, naming the file and the reason", "[io][npy]") {
  const std::pair<const char*, const char*> cases[] = {
      {"bad_fortran.npy", "fortran_order"}, {"bad_bigendian.npy", "big-endian"}, {"bad_object.npy", "object"},
      {"bad_bool.npy", "bool"},             {"bad_float16.npy", "float16"},      {"bad_complex.npy", "complex"},
      {"bad_structured.npy", "structured"}};
  for (const auto& c : cases) {
    const std::string path = kDir + c.first;
    INFO(path);
    try {
      (void)qsafe::io::read_npy(path);
      FAIL("no error");
    } catch (const NpyError& e) {
      CHECK(e.file() == path);
      CHECK_THAT(e.what(), Catch::StartsWith(path + ": ") && Catch::Contains(c.second));
    }
  }
  CHECK_THROWS_WITH(qsafe::io::read_npy(kDir + "no_such_file.npy"),
                    Catch::Contains("no_such_file.npy") && Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(qsafe::io::read_npy(kDir), Catch::Contains(kDir));  // a directory
  CHECK_THROWS_WITH(qsafe::io::write_npy("/nonexistent-dir/x.npy", NpyArray(DType::int8, {1})),
                    Catch::Contains("/nonexistent-dir/x.npy") && Catch::Contains("cannot open for writing"));
}

TEST_CASE("npy: malformed headers", "[io][npy]") {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(parse_error(with_header(ok, 24)).empty());
  CHECK(parse_error(with_header(ok, 24, 2)).empty());
  CHECK(parse_error(with_header("{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3)}\n", 24)).empty());
  CHECK(parse_error(with_header("{'descr': 'f4', 'fortran_order': False, 'shape': (6L,), }", 24)).empty());
  CHECK(parse_error(with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 6, 1), }", 24)).empty());

  struct Bad {
    std::string dict;
    std::size_t data;
    const char* says;
  };
  const Bad bad[] = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, "truncated"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, "trailing"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 24, "negative"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }", 0, "overflows"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976, 8), }", 0, "overflows"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904, 0), }", 0, "overflows"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4611686018427387904), }", 0, "overflows"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0, "beyond int64"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1), }", 4, "32"},
      {"{'descr': '<f4', 'fortran_order': False}", 0, "shape"},
      {"{'descr': '<f4', 'shape': (2, 3), }", 24, "fortran_order"},
      {"{'fortran_order': False, 'shape': (2, 3), }", 24, "descr"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, "repeats"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", 24, "unexpected key"},
      {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", 24, "True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", 24, "'('"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", 24, "shape"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } junk", 24, "after"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", 24, "quoted string"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3), }", 24, "header"},
      {"{'descr': '<u8', 'fortran_order': False, 'shape': (3,), }", 24, "unsupported dtype"},
      {"{'descr': '<u4', 'fortran_order': False, 'shape': (3,), }", 12, "unsupported dtype"},
      {"{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }", 12, "big-endian"},
      {"{'descr': '|i4', 'fortran_order': False, 'shape': (3,), }", 12, "unsupported dtype"},
      {"{'descr': '', 'fortran_order': False, 'shape': (3,), }", 12, "unsupported dtype"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", 12, "structured"},
      {"", 0, "expected '{'"},
      {"{'de\\'scr': '<f4'}", 0, "escape"},
      {std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\0", 61), 24, "printable"},
  };
  for (const Bad& b : bad) {
    INFO(b.dict);
    CHECK_THAT(parse_error(with_header(b.dict, b.data)), Catch::Contains(b.says));
  }
  // Broken prefixes.
  std::vector<std::uint8_t> f = with_header(ok, 24);
  f[0] = 0x92;
  CHECK_THAT(parse_error(f), Catch::Contains("magic"));
  f = with_header(ok, 24);
  f[6] = 4;
  CHECK_THAT(parse_error(f), Catch::Contains("version 4.0"));
  f = with_header(ok, 24);
  f[7] = 1;
  CHECK_THAT(parse_error(f), Catch::Contains("version 1.1"));
  f = with_header(ok, 24, 2);
  f[11] = 0x7f;  // header length near 2 GiB: must not allocate it
  CHECK_THAT(parse_error(f), Catch::Contains("truncated"));
  CHECK_THAT(parse_error({}), Catch::Contains("truncated"));
  CHECK_THAT(parse_error({'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'}), Catch::Contains("magic"));
  CHECK_THROWS_AS(qsafe::io::parse_npy(nullptr, 0, "null"), NpyError);
}

TEST_CASE("npy: truncation at every byte and corrupted bytes never crash", "[io][npy]") {
  for (const char* name : {"float32_2x3.npy", "int16_2x3_v2.npy", "float32_scalar.npy", "float32_empty.npy"}) {
    const std::vector<std::uint8_t> full = file_bytes(kDir + name);
    INFO(name);
    for (std::size_t n = 0; n < full.size(); ++n) {
      const std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      const std::string err = parse_error(cut);
      INFO("cut at " << n);
      CHECK(!err.empty());
    }
    CHECK(parse_error(full).empty());
    // Every single byte of the prefix and header replaced by each of a few values: either a
    // clean parse or an NpyError (parse_error fails the test on anything else).
    const std::size_t header_end = full.size() - qsafe::io::parse_npy(full).byte_size();
    for (std::size_t i = 0; i < header_end; ++i)
      for (std::uint8_t v : {0x00, 0x20, 0x27, 0x28, 0x29, 0x2c, 0x2d, 0x30, 0x39, 0x7b, 0x7d, 0x80, 0xff}) {
        std::vector<std::uint8_t> m = full;
        m[i] = v;
        (void)parse_error(m);
      }
  }
  // Random multi-byte mutations of a header.
  const std::vector<std::uint8_t> full = file_bytes(kDir + "float32_2x3x4.npy");
  std::mt19937 rng(42);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<std::uint8_t> m = full;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) m[rng() % 128] = static_cast<std::uint8_t>(rng());
    if (rng() % 4 == 0) m.resize(rng() % m.size());
    (void)parse_error(m);
  }
}
