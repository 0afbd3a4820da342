// qsafe/core/status.hpp: the error vocabulary of the core. Core functions raise no exceptions; they
// return a Status, or a Result<T> holding either a value or a Status. Messages are static strings.
#ifndef QSAFE_CORE_STATUS_HPP_
#define QSAFE_CORE_STATUS_HPP_

#include <cstdint>
#include <type_traits>
#include <utility>

#include "qsafe/config.hpp"

namespace qsafe {

enum class Status : std::uint8_t {
  ok = 0,
  invalid_argument,     // a parameter is outside its documented range
  shape_mismatch,       // sizes or shapes of views do not agree
  non_finite_input,     // NaN or +-Inf where finite values are required
  empty_input,          // zero elements where at least one is required
  overflow_risk,        // the int32 accumulator could overflow (e.g. K too large)
  workspace_too_small,  // the caller's workspace is smaller than *_workspace_size()
  unsupported_arch,     // a forced ISA path the CPU (or the build) cannot run
  null_pointer,         // null data with a non-zero size
  out_of_range,         // a finite value whose derived quantity is not representable (e.g. scale overflows)
  io_error,             // a file could not be read or written (host-side code only)
  corrupt_data,         // a file or buffer does not have the expected format
};

constexpr const char* to_string(Status s) noexcept {
  switch (s) {
    case Status::ok: return "ok";
    case Status::invalid_argument: return "invalid argument";
    case Status::shape_mismatch: return "shape mismatch";
    case Status::non_finite_input: return "non-finite input (NaN or Inf)";
    case Status::empty_input: return "empty input";
    case Status::overflow_risk: return "int32 accumulator overflow risk";
    case Status::workspace_too_small: return "workspace too small";
    case Status::unsupported_arch: return "ISA path not supported on this CPU or build";
    case Status::null_pointer: return "null pointer with non-zero size";
    case Status::out_of_range: return "value out of representable range";
    case Status::io_error: return "I/O error";
    case Status::corrupt_data: return "corrupt or unsupported data";
  }
  return "unknown status";
}

// Value-or-status for a default-constructible T. No heap of its own, no exceptions.
template <class T>
class [[nodiscard]] Result {
  static_assert(std::is_default_constructible<T>::value, "Result<T> needs a default-constructible T");

 public:
  // By value and moved: a sink, cheap for small T and a move for the analysis layer's vectors.
  // cppcheck-suppress passedByValue
  constexpr Result(T v) noexcept : value_(std::move(v)), status_(Status::ok) {}  // NOLINT: implicit by design
  constexpr Result(Status s) noexcept : value_(), status_(s) {                   // NOLINT: implicit by design
    QSAFE_DCHECK(s != Status::ok);
  }
  constexpr bool ok() const noexcept { return status_ == Status::ok; }
  constexpr explicit operator bool() const noexcept { return ok(); }
  constexpr Status status() const noexcept { return status_; }
  constexpr const T& value() const noexcept {
    QSAFE_DCHECK(ok());
    return value_;
  }
  constexpr T& value() noexcept {
    QSAFE_DCHECK(ok());
    return value_;
  }
  constexpr const T& operator*() const noexcept { return value(); }
  constexpr const T* operator->() const noexcept { return &value(); }

 private:
  T value_;
  Status status_;
};

}  // namespace qsafe

// Early return of a non-ok Status from an expression that yields a Status.
#define QSAFE_RETURN_IF_ERROR(expr)                                 \
  do {                                                              \
    const ::qsafe::Status qsafe_status_ = (expr);                   \
    if (qsafe_status_ != ::qsafe::Status::ok) return qsafe_status_; \
  } while (0)

#endif  // QSAFE_CORE_STATUS_HPP_
