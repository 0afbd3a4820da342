// qsafe/kernel/arch/dispatch.hpp: picking a path. On x86 the CPU is probed once (CPUID, cached);
// on ARM available() is a compile-time constant, so dispatch folds away.
#ifndef QSAFE_KERNEL_ARCH_DISPATCH_HPP_
#define QSAFE_KERNEL_ARCH_DISPATCH_HPP_

#include <type_traits>
#include <utility>

#include "qsafe/core/status.hpp"
#include "qsafe/kernel/arch/registry.hpp"

namespace qsafe {
namespace arch {

// Calls f(Isa{}) for the first compiled path the CPU can run (scalar always can).
template <class F, class First, class... Rest>
decltype(auto) dispatch(list<First, Rest...>, F&& f) noexcept {
  if constexpr (sizeof...(Rest) == 0) {
    return std::forward<F>(f)(First{});
  } else {
    if (First::available()) return std::forward<F>(f)(First{});
    return dispatch(list<Rest...>{}, std::forward<F>(f));
  }
}

// The id of the path dispatch() would choose.
inline Id best_available() noexcept {
  return dispatch(compiled{}, [](auto isa) noexcept { return decltype(isa)::id; });
}

// Calls f(Isa{}) for the compiled path whose id is `id`; returns `missing` if none is.
template <class R, class F>
R visit(list<>, Id, R missing, F&&) noexcept {
  return missing;
}
template <class R, class F, class First, class... Rest>
R visit(list<First, Rest...>, Id id, R missing, F&& f) noexcept {
  if (First::id == id) return std::forward<F>(f)(First{});
  return visit(list<Rest...>{}, id, missing, std::forward<F>(f));
}

// Whether weights packed for path `packed_for` (arch::Id::none: never packed) can run as Isa.
// Isa = automatic runs the packed path: unsupported_arch if this CPU lacks it, invalid_argument
// for empty weights. A forced Isa: unsupported_arch if the CPU lacks it, invalid_argument if the
// weights were packed for another path. Shared by every kernel that takes packed weights.
template <class Isa>
Status check_packed_for(Id packed_for) noexcept {
  if constexpr (std::is_same<Isa, automatic>::value) {
    const bool runnable =
        visit(compiled{}, packed_for, false, [](auto isa) noexcept { return decltype(isa)::available(); });
    if (!runnable) return packed_for == Id::none ? Status::invalid_argument : Status::unsupported_arch;
    return Status::ok;
  } else {
    if (!Isa::available()) return Status::unsupported_arch;
    if (packed_for != Isa::id) return Status::invalid_argument;
    return Status::ok;
  }
}

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_DISPATCH_HPP_
