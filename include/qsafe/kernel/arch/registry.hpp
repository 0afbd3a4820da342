// qsafe/kernel/arch/registry.hpp: THE list of kernel paths compiled into this build, best first,
// scalar last. Adding an ISA = one folder under arch/ plus its lines here (docs/adding-an-isa.md).
// Tests, benchmarks and the dispatcher all walk arch::compiled.
#ifndef QSAFE_KERNEL_ARCH_REGISTRY_HPP_
#define QSAFE_KERNEL_ARCH_REGISTRY_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/arch_id.hpp"
#include "qsafe/kernel/arch/scalar/arch.hpp"
#include "qsafe/kernel/arch/scalar/ukernel.hpp"

#if QSAFE_COMPILE_AVX2
#include "qsafe/kernel/arch/avx2/ukernel.hpp"
#endif
#if QSAFE_COMPILE_AVX512_VNNI
#include "qsafe/kernel/arch/avx512_vnni/ukernel.hpp"
#endif
#if QSAFE_COMPILE_AVX_VNNI
#include "qsafe/kernel/arch/avx_vnni/ukernel.hpp"
#endif

// ARM: the path is fixed by -march (GCC and Clang cannot enable dot-product per function).
#if QSAFE_AARCH64 && defined(__has_include)
#if __has_include("qsafe/kernel/arch/neon/ukernel.hpp")
#include "qsafe/kernel/arch/neon/ukernel.hpp"
#define QSAFE_COMPILE_NEON 1
#endif
#if QSAFE_HAS_NEON_DOTPROD && __has_include("qsafe/kernel/arch/neon_dotprod/ukernel.hpp")
#include "qsafe/kernel/arch/neon_dotprod/ukernel.hpp"
#define QSAFE_COMPILE_NEON_DOTPROD 1
#endif
#endif
#ifndef QSAFE_COMPILE_NEON
#define QSAFE_COMPILE_NEON 0
#endif
#ifndef QSAFE_COMPILE_NEON_DOTPROD
#define QSAFE_COMPILE_NEON_DOTPROD 0
#endif

namespace qsafe {
namespace arch {

template <class... Isas>
struct list {};

namespace detail {
template <bool Keep, class Isa>
struct maybe {};
template <class... Parts>
struct concat;
template <>
struct concat<> {
  using type = list<>;
};
template <class Isa, class... Rest>
struct concat<maybe<true, Isa>, Rest...> {
  template <class L>
  struct prepend;
  template <class... Is>
  struct prepend<list<Is...>> {
    using type = list<Isa, Is...>;
  };
  using type = typename prepend<typename concat<Rest...>::type>::type;
};
template <class Isa, class... Rest>
struct concat<maybe<false, Isa>, Rest...> {
  using type = typename concat<Rest...>::type;
};
struct absent {};
}  // namespace detail

#if QSAFE_COMPILE_AVX2
#define QSAFE_ARCH_AVX2_TAG avx2
#else
#define QSAFE_ARCH_AVX2_TAG detail::absent
#endif
#if QSAFE_COMPILE_AVX512_VNNI
#define QSAFE_ARCH_AVX512_VNNI_TAG avx512_vnni
#else
#define QSAFE_ARCH_AVX512_VNNI_TAG detail::absent
#endif
#if QSAFE_COMPILE_AVX_VNNI
#define QSAFE_ARCH_AVX_VNNI_TAG avx_vnni
#else
#define QSAFE_ARCH_AVX_VNNI_TAG detail::absent
#endif
#if QSAFE_COMPILE_NEON
#define QSAFE_ARCH_NEON_TAG neon
#else
#define QSAFE_ARCH_NEON_TAG detail::absent
#endif
#if QSAFE_COMPILE_NEON_DOTPROD
#define QSAFE_ARCH_NEON_DOTPROD_TAG neon_dotprod
#else
#define QSAFE_ARCH_NEON_DOTPROD_TAG detail::absent
#endif

// Best first: the dispatcher takes the first one the CPU can run.
using compiled =
    typename detail::concat<detail::maybe<QSAFE_COMPILE_AVX512_VNNI, QSAFE_ARCH_AVX512_VNNI_TAG>,
                            detail::maybe<QSAFE_COMPILE_AVX_VNNI, QSAFE_ARCH_AVX_VNNI_TAG>,
                            detail::maybe<QSAFE_COMPILE_AVX2, QSAFE_ARCH_AVX2_TAG>,
                            detail::maybe<QSAFE_COMPILE_NEON_DOTPROD, QSAFE_ARCH_NEON_DOTPROD_TAG>,
                            detail::maybe<QSAFE_COMPILE_NEON, QSAFE_ARCH_NEON_TAG>, detail::maybe<true, scalar>>::type;

#undef QSAFE_ARCH_AVX2_TAG
#undef QSAFE_ARCH_AVX512_VNNI_TAG
#undef QSAFE_ARCH_AVX_VNNI_TAG
#undef QSAFE_ARCH_NEON_TAG
#undef QSAFE_ARCH_NEON_DOTPROD_TAG

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_REGISTRY_HPP_
