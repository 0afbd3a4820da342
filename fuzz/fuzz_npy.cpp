// Fuzz target: the .npy reader (io/npy.hpp) on arbitrary bytes. Every input must either parse or
// throw qsafe::io::NpyError (never another exception, never a crash, never an allocation beyond
// what the input holds); a parsed array's byte size must match its shape and dtype and fit in the
// input, and converting it to float must give one value per element.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "qsafe/io/npy.hpp"

#define QSAFE_FUZZ_CHECK(cond)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);    \
      __builtin_trap();                                                                     \
    }                                                                                       \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const qsafe::io::NpyArray a = qsafe::io::parse_npy(data, size, "fuzz.npy");
    std::int64_t numel = 1;
    for (int i = 0; i < a.rank(); ++i) numel *= a.shape()[static_cast<std::size_t>(i)];
    QSAFE_FUZZ_CHECK(numel >= 0);
    QSAFE_FUZZ_CHECK(a.byte_size() == static_cast<std::size_t>(numel) * qsafe::io::dtype_size(a.dtype()));
    QSAFE_FUZZ_CHECK(a.byte_size() <= size);
    QSAFE_FUZZ_CHECK(a.to_float().size() == static_cast<std::size_t>(numel));
  } catch (const qsafe::io::NpyError& e) {
    QSAFE_FUZZ_CHECK(e.what() != nullptr && e.what()[0] != '\0');
  }
  return 0;
}
