// Fuzz target: the model manifest parser (io/manifest.hpp) on arbitrary text. Every input must
// either parse or throw qsafe::io::ManifestError with a message that starts with the file name
// (never another exception, never a crash).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "qsafe/io/manifest.hpp"

#define QSAFE_FUZZ_CHECK(cond)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);    \
      __builtin_trap();                                                                     \
    }                                                                                       \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const qsafe::io::Manifest m = qsafe::io::parse_manifest(text, "dir/model.txt");
    for (const qsafe::io::LayerSpec& l : m.layers) QSAFE_FUZZ_CHECK(l.line >= 1);
  } catch (const qsafe::io::ManifestError& e) {
    QSAFE_FUZZ_CHECK(std::string(e.what()).rfind("dir/model.txt", 0) == 0);
  }
  return 0;
}
