// qsafe/kernel/arch/dispatch.hpp: picking a path. On x86 the CPU is probed once (CPUID, cached);
// on ARM available() is a compile-time constant, so dispatch folds away.
#ifndef QSAFE_KERNEL_ARCH_DISPATCH_HPP_
#define QSAFE_KERNEL_ARCH_DISPATCH_HPP_

#include <utility>

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

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_DISPATCH_HPP_
