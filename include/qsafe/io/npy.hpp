// qsafe/io/npy.hpp: reading and writing NumPy .npy files. Host-side: allocates, and reports every
// problem by throwing qsafe::io::NpyError, whose what() names the file and the problem
// ("w.npy: truncated: the header promises 48 bytes of float32 data but 40 follow").
//
// Supported: format versions 1.0, 2.0 and 3.0 (3.0 differs only in allowing UTF-8 in the header);
// dtypes float32, float64, int8, uint8, int16, uint16, int32, int64; C order; little-endian (one-byte types
// also accept '|'); any rank from 0 (a scalar) to 32 (NumPy's limit).
// Rejected with an NpyError: a bad magic string or version, a header that is not NumPy's dict
// (missing, repeated or unknown keys, bad syntax), fortran_order True, big-endian data, any other
// dtype (object, bool, float16, complex, structured, ...), negative or overflowing shapes, and a
// data section that is shorter or longer than the shape says. A file is read whole and checked
// before the data buffer is allocated, so a lying header cannot make the reader allocate more than
// the file holds.
//
// Writing produces exactly what numpy.save produces: version 1.0, the header padded with spaces to a multiple of 64
// bytes and ended by '\n'.
//
//   qsafe::io::NpyArray a = qsafe::io::read_npy("x.npy");
//   std::vector<float> x = a.to_float();                   // any supported dtype, converted
//   const std::int8_t* q = a.data<std::int8_t>();          // typed: throws if the dtype differs
//   qsafe::io::write_npy("q.npy", qsafe::io::NpyArray::from_data<std::int8_t>({2, 3}, q8));
#ifndef QSAFE_IO_NPY_HPP_
#define QSAFE_IO_NPY_HPP_

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "qsafe/core/tensor_view.hpp"

namespace qsafe {
namespace io {

// Thrown for every .npy problem. file() is the path (or the name given to parse_npy), problem()
// the reason alone; what() is "file: problem".
class NpyError : public std::runtime_error {
 public:
  NpyError(std::string file, std::string problem)
      : std::runtime_error(file + ": " + problem), file_(std::move(file)), problem_(std::move(problem)) {}
  const std::string& file() const noexcept { return file_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string file_;
  std::string problem_;
};

enum class DType : std::uint8_t { float32, float64, int8, uint8, int16, uint16, int32, int64 };

constexpr std::size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::int8:
    case DType::uint8: return 1;
    case DType::int16:
    case DType::uint16: return 2;
    case DType::float32:
    case DType::int32: return 4;
    case DType::float64:
    case DType::int64: return 8;
  }
  return 0;
}

// NumPy's name ("float32", "int8", ...).
constexpr const char* dtype_name(DType t) noexcept {
  switch (t) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int8: return "int8";
    case DType::uint8: return "uint8";
    case DType::int16: return "int16";
    case DType::uint16: return "uint16";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
  }
  return "?";
}

// The header's descr string numpy.save writes for the dtype.
constexpr const char* dtype_descr(DType t) noexcept {
  switch (t) {
    case DType::float32: return "<f4";
    case DType::float64: return "<f8";
    case DType::int8: return "|i1";
    case DType::uint8: return "|u1";
    case DType::int16: return "<i2";
    case DType::uint16: return "<u2";
    case DType::int32: return "<i4";
    case DType::int64: return "<i8";
  }
  return "?";
}

// The DType of a C++ element type (float, double, int8_t, uint8_t, int16_t, uint16_t, int32_t,
// int64_t).
template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::float32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::float64;
};
template <>
struct DTypeOf<std::int8_t> {
  static constexpr DType value = DType::int8;
};
template <>
struct DTypeOf<std::uint8_t> {
  static constexpr DType value = DType::uint8;
};
template <>
struct DTypeOf<std::int16_t> {
  static constexpr DType value = DType::int16;
};
template <>
struct DTypeOf<std::uint16_t> {
  static constexpr DType value = DType::uint16;
};
template <>
struct DTypeOf<std::int32_t> {
  static constexpr DType value = DType::int32;
};
template <>
struct DTypeOf<std::int64_t> {
  static constexpr DType value = DType::int64;
};

inline constexpr int kNpyMaxRank = 32;  // NumPy's NPY_MAXDIMS

namespace detail {

// numel * item, or -1 when a dim is negative or the product of the non-zero dims times item would
// exceed int64 (so every accepted shape has an overflow-free numel(), in any multiplication order,
// even when another dim is 0).
inline std::int64_t npy_byte_count(const std::vector<std::int64_t>& shape, std::size_t item) noexcept {
  std::int64_t bytes = static_cast<std::int64_t>(item);
  bool zero = false;
  for (std::int64_t d : shape) {
    if (d < 0) return -1;
    if (d == 0) {
      zero = true;
      continue;
    }
    if (bytes > std::numeric_limits<std::int64_t>::max() / d) return -1;
    bytes *= d;
  }
  return zero ? 0 : bytes;
}

inline std::string npy_shape_string(const std::vector<std::int64_t>& shape) {
  // Python's tuple syntax: (), (3,), (2, 3)
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

constexpr bool host_is_little_endian() noexcept {
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
  return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
  return true;  // x86-64 and AArch64 as qsafe builds them
#endif
}
static_assert(host_is_little_endian(), "qsafe's .npy reader assumes a little-endian host");

}  // namespace detail

// An owning n-dimensional array in C order: shape, dtype and the raw little-endian bytes.
class NpyArray {
 public:
  NpyArray() = default;

  // Zero-filled array. Throws NpyError for a negative or overflowing shape or rank > 32.
  NpyArray(DType dtype, std::vector<std::int64_t> shape, std::string source = "<array>")
      : dtype_(dtype), shape_(std::move(shape)), source_(std::move(source)) {
    if (shape_.size() > static_cast<std::size_t>(kNpyMaxRank))
      throw NpyError(source_, "rank " + std::to_string(shape_.size()) + " exceeds NumPy's limit of 32");
    const std::int64_t bytes = detail::npy_byte_count(shape_, dtype_size(dtype_));
    if (bytes < 0 || static_cast<std::uint64_t>(bytes) > std::numeric_limits<std::size_t>::max() / 2)
      throw NpyError(source_, "invalid shape " + detail::npy_shape_string(shape_) + " for " + dtype_name(dtype_));
    bytes_.assign(static_cast<std::size_t>(bytes), std::uint8_t{0});
  }

  // Copies numel(shape) elements from data.
  template <class T>
  static NpyArray from_data(std::vector<std::int64_t> shape, const T* data, std::string source = "<array>") {
    NpyArray a(DTypeOf<T>::value, std::move(shape), std::move(source));
    if (!a.bytes_.empty()) std::memcpy(a.bytes_.data(), data, a.bytes_.size());
    return a;
  }
  template <class T>
  static NpyArray from_vector(std::vector<std::int64_t> shape, const std::vector<T>& v,
                              std::string source = "<array>") {
    NpyArray a(DTypeOf<T>::value, std::move(shape), std::move(source));
    if (static_cast<std::size_t>(a.numel()) != v.size())
      throw NpyError(a.source_, "shape " + detail::npy_shape_string(a.shape_) + " needs " + std::to_string(a.numel()) +
                                    " elements, got " + std::to_string(v.size()));
    if (!v.empty()) std::memcpy(a.bytes_.data(), v.data(), a.bytes_.size());
    return a;
  }

  DType dtype() const noexcept { return dtype_; }
  const std::vector<std::int64_t>& shape() const noexcept { return shape_; }
  int rank() const noexcept { return static_cast<int>(shape_.size()); }
  std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (std::int64_t d : shape_) n *= d;
    return n;
  }
  // Where the array came from (a path, or the name given to parse_npy / the constructor).
  const std::string& source() const noexcept { return source_; }
  std::size_t byte_size() const noexcept { return bytes_.size(); }
  const std::uint8_t* bytes() const noexcept { return bytes_.data(); }
  std::uint8_t* bytes() noexcept { return bytes_.data(); }

  // Typed element access. Throws NpyError if T is not the array's dtype.
  template <class T>
  const T* data() const {
    check_type<T>();
    return reinterpret_cast<const T*>(bytes_.data());
  }
  template <class T>
  T* data() {
    check_type<T>();
    return reinterpret_cast<T*>(bytes_.data());
  }
  template <class T>
  std::vector<T> to_vector() const {
    const T* p = data<T>();
    return std::vector<T>(p, p + numel());
  }

  // Every element converted to float (static_cast: float64 and int64 may round; int types are
  // exact up to 2^24).
  std::vector<float> to_float() const {
    std::vector<float> out(static_cast<std::size_t>(numel()));
    convert(out.data());
    return out;
  }
  std::vector<double> to_double() const {
    std::vector<double> out(static_cast<std::size_t>(numel()));
    convert(out.data());
    return out;
  }

  // The shape as a qsafe::Shape for TensorView (rank <= 8, else NpyError).
  Shape view_shape() const {
    if (rank() > kMaxRank)
      throw NpyError(source_, "rank " + std::to_string(rank()) + " exceeds qsafe's TensorView limit of " +
                                  std::to_string(kMaxRank));
    return Shape::from(shape_.data(), rank());
  }
  template <class T>
  TensorView<const T> view() const {
    return TensorView<const T>(data<T>(), view_shape());
  }

 private:
  template <class T>
  void check_type() const {
    if (DTypeOf<std::remove_cv_t<T>>::value != dtype_)
      throw NpyError(source_, std::string("array of dtype ") + dtype_name(dtype_) + " accessed as " +
                                  dtype_name(DTypeOf<std::remove_cv_t<T>>::value));
  }
  template <class Out>
  void convert(Out* out) const {
    const std::size_t n = static_cast<std::size_t>(numel());
    switch (dtype_) {
      case DType::float32: convert_from<float>(out, n); break;
      case DType::float64: convert_from<double>(out, n); break;
      case DType::int8: convert_from<std::int8_t>(out, n); break;
      case DType::uint8: convert_from<std::uint8_t>(out, n); break;
      case DType::int16: convert_from<std::int16_t>(out, n); break;
      case DType::uint16: convert_from<std::uint16_t>(out, n); break;
      case DType::int32: convert_from<std::int32_t>(out, n); break;
      case DType::int64: convert_from<std::int64_t>(out, n); break;
    }
  }
  template <class In, class Out>
  void convert_from(Out* out, std::size_t n) const {
    for (std::size_t i = 0; i < n; ++i) {
      In v;
      std::memcpy(&v, bytes_.data() + i * sizeof(In), sizeof(In));
      out[i] = static_cast<Out>(v);
    }
  }

  DType dtype_ = DType::float32;
  std::vector<std::int64_t> shape_;
  std::vector<std::uint8_t> bytes_;
  std::string source_ = "<array>";
};

namespace detail {

// A parser for the one Python literal the header holds:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& text, const std::string& file) : s_(text), file_(file) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<std::int64_t>& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    skip_space();
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string("a key");
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (have_descr) fail("header repeats the key 'descr'");
        if (peek() == '[') fail("structured dtypes (a list descr) are not supported");
        descr = parse_string("the descr value");
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) fail("header repeats the key 'fortran_order'");
        fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) fail("header repeats the key 'shape'");
        shape = parse_shape();
        have_shape = true;
      } else {
        fail("header has an unexpected key '" + printable(key) + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("header: expected ',' or '}' at byte " + std::to_string(pos_));
    }
    expect('}');
    skip_space();
    if (pos_ != s_.size()) fail("header: unexpected text after the closing '}'");
    if (!have_descr) fail("header lacks the key 'descr'");
    if (!have_order) fail("header lacks the key 'fortran_order'");
    if (!have_shape) fail("header lacks the key 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const { throw NpyError(file_, problem); }

  static std::string printable(const std::string& s) {
    std::string out;
    for (char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c || pos_ >= s_.size())
      fail(std::string("header: expected '") + c + "' at byte " + std::to_string(pos_) + " of the dict");
    ++pos_;
  }
  std::string parse_string(const char* what) {
    const char q = peek();
    if (q != '\'' && q != '"') fail(std::string("header: expected a quoted string for ") + what);
    ++pos_;
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\') fail("header: escapes in strings are not supported");
      ++pos_;
    }
    if (pos_ >= s_.size()) fail(std::string("header: unterminated string for ") + what);
    return s_.substr(start, pos_++ - start);
  }
  bool parse_bool() {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("header: fortran_order must be True or False");
  }
  std::vector<std::int64_t> parse_shape() {
    std::vector<std::int64_t> shape;
    expect('(');
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (peek() == '-') fail("shape has a negative dimension");
      if (peek() < '0' || peek() > '9') fail("header: shape must be a tuple of non-negative integers");
      std::int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        const int d = peek() - '0';
        if (v > (std::numeric_limits<std::int64_t>::max() - d) / 10) fail("shape has a dimension beyond int64");
        v = v * 10 + d;
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 longs: (3L, 4L)
      if (shape.size() == static_cast<std::size_t>(kNpyMaxRank)) fail("shape has more than 32 dimensions");
      shape.push_back(v);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != ')') fail("header: expected ',' or ')' in the shape");
    }
    expect(')');
    return shape;
  }

  const std::string& s_;
  const std::string& file_;
  std::size_t pos_ = 0;
};

inline DType npy_dtype_from_descr(const std::string& descr, const std::string& file) {
  if (descr.size() < 2) throw NpyError(file, "unsupported dtype '" + descr + "'");
  const char order = descr[0];
  const std::string code = descr.substr(1);
  struct Known {
    const char* code;
    DType dtype;
  };
  static const Known known[] = {{"f4", DType::float32}, {"f8", DType::float64}, {"i1", DType::int8},
                                {"u1", DType::uint8},   {"i2", DType::int16},   {"u2", DType::uint16},
                                {"i4", DType::int32},   {"i8", DType::int64}};
  const bool has_order = order == '<' || order == '>' || order == '|' || order == '=';
  const std::string bare = has_order ? code : descr;
  for (const Known& k : known) {
    if (bare != k.code) continue;
    if (dtype_size(k.dtype) == 1) return k.dtype;                    // byte order is irrelevant
    if (!has_order || order == '<' || order == '=') return k.dtype;  // '=' is native: little-endian here
    if (order == '>') throw NpyError(file, "big-endian data ('" + descr + "') is not supported; save it little-endian");
    break;  // '|' on a multi-byte type is malformed
  }
  std::string name = descr;
  if (bare == "O" || bare == "O8")
    name += " (object arrays)";
  else if (bare == "b1" || bare == "?")
    name += " (bool)";
  else if (bare == "f2")
    name += " (float16)";
  else if (!bare.empty() && bare[0] == 'c')
    name += " (complex)";
  throw NpyError(file, "unsupported dtype '" + name +
                           "'; qsafe reads float32, float64, int8, uint8, int16, uint16, int32 and int64");
}

inline std::uint32_t npy_read_le(const std::uint8_t* p, int n) noexcept {
  std::uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace detail

// Parses a whole .npy file held in memory; `name` appears in error messages. Never reads outside
// [data, data + size).
inline NpyArray parse_npy(const void* data, std::size_t size, const std::string& name = "<memory>") {
  const std::uint8_t* p = static_cast<const std::uint8_t*>(data);
  static const std::uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || p == nullptr) {
    if (size >= 6 && p != nullptr && std::memcmp(p, kMagic, 6) != 0)
      throw NpyError(name, "not a .npy file (bad magic)");
    throw NpyError(name, "truncated: " + std::to_string(size) + " bytes is shorter than any .npy header");
  }
  if (std::memcmp(p, kMagic, 6) != 0) throw NpyError(name, "not a .npy file (bad magic)");
  const int major = p[6], minor = p[7];
  if (major < 1 || major > 3 || minor != 0)
    throw NpyError(name, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor));
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (size < 8 + len_bytes) throw NpyError(name, "truncated inside the header length");
  const std::size_t header_len = detail::npy_read_le(p + 8, static_cast<int>(len_bytes));
  const std::size_t data_offset = 8 + len_bytes + header_len;
  if (header_len > size - 8 - len_bytes)
    throw NpyError(name, "truncated: the header is " + std::to_string(header_len) + " bytes but only " +
                             std::to_string(size - 8 - len_bytes) + " follow");
  const std::string header(reinterpret_cast<const char*>(p + 8 + len_bytes), header_len);
  for (char c : header)
    if (c == '\0' || (major < 3 && static_cast<unsigned char>(c) >= 0x80))
      throw NpyError(name, "header contains a byte that is not printable ASCII");

  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
  detail::NpyHeaderParser(header, name).parse(descr, fortran_order, shape);
  const DType dtype = detail::npy_dtype_from_descr(descr, name);
  if (fortran_order && shape.size() > 1) {
    std::int64_t big = 0;  // fortran order is the same as C order when at most one dim exceeds 1
    for (std::int64_t d : shape) big += d > 1 ? 1 : 0;
    if (big > 1) throw NpyError(name, "fortran_order True is not supported; save a C-order array");
  }
  const std::int64_t bytes = detail::npy_byte_count(shape, dtype_size(dtype));
  if (bytes < 0) throw NpyError(name, "shape " + detail::npy_shape_string(shape) + " overflows the element count");
  const std::size_t have = size - data_offset;
  if (static_cast<std::uint64_t>(bytes) != have) {
    const std::string promise = "the header promises " + std::to_string(bytes) + " bytes of " + dtype_name(dtype) +
                                " data (shape " + detail::npy_shape_string(shape) + ")";
    if (static_cast<std::uint64_t>(bytes) > have)
      throw NpyError(name, "truncated: " + promise + " but " + std::to_string(have) + " follow");
    throw NpyError(name, promise + " but " + std::to_string(have) + " follow (trailing bytes)");
  }
  NpyArray a(dtype, std::move(shape), name);
  if (bytes > 0) std::memcpy(a.bytes(), p + data_offset, static_cast<std::size_t>(bytes));
  return a;
}

inline NpyArray parse_npy(const std::vector<std::uint8_t>& file, const std::string& name = "<memory>") {
  return parse_npy(file.data(), file.size(), name);
}

// Reads a .npy file. Throws NpyError (cannot open, or any format problem above).
inline NpyArray read_npy(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw NpyError(path, "cannot read: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NpyError(path, std::string("cannot open for reading: ") + std::strerror(errno));
  // Read in chunks instead of trusting a seek to the end: works for pipes and special files.
  std::vector<std::uint8_t> file;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    file.insert(file.end(), chunk, chunk + in.gcount());
    if (in.eof()) break;
  }
  if (in.bad()) throw NpyError(path, "read error");
  return parse_npy(file, path);
}

// The bytes numpy.save would write for `a`.
inline std::vector<std::uint8_t> serialize_npy(const NpyArray& a) {
  std::string dict = std::string("{'descr': '") + dtype_descr(a.dtype()) +
                     "', 'fortran_order': False, 'shape': " + detail::npy_shape_string(a.shape()) + ", }";
  // Pad with spaces so that magic + version + length + header is a multiple of 64, ending in '\n'.
  // Rank <= 32 keeps the dict far below 64 KiB, so version 1.0 (a 2-byte length) always fits.
  const std::size_t prefix = 10;
  const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  const std::size_t header_len = total - prefix;
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';
  std::vector<std::uint8_t> out;
  out.reserve(total + a.byte_size());
  const std::uint8_t magic[10] = {0x93,
                                  'N',
                                  'U',
                                  'M',
                                  'P',
                                  'Y',
                                  1,
                                  0,
                                  static_cast<std::uint8_t>(header_len & 0xffu),
                                  static_cast<std::uint8_t>(header_len >> 8)};
  out.insert(out.end(), magic, magic + 10);
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), a.bytes(), a.bytes() + a.byte_size());
  return out;
}

// Writes `a` to path (as numpy.save). Throws NpyError if the file cannot be written.
inline void write_npy(const std::string& path, const NpyArray& a) {
  const std::vector<std::uint8_t> bytes = serialize_npy(a);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw NpyError(path, std::string("cannot open for writing: ") + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) throw NpyError(path, "write error");
}

template <class T>
void write_npy(const std::string& path, std::vector<std::int64_t> shape, const T* data) {
  write_npy(path, NpyArray::from_data<T>(std::move(shape), data, path));
}

}  // namespace io
}  // namespace qsafe

#endif  // QSAFE_IO_NPY_HPP_
