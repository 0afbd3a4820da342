// qsafe/kernel/arch/avx512_vnni/ukernel.hpp: (placeholder) no kernel of its own yet, so the primary
// GemmUkernel template makes this path inherit its parent's.
#ifndef QSAFE_KERNEL_ARCH_AVX512_VNNI_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_AVX512_VNNI_UKERNEL_HPP_

#include "qsafe/kernel/arch/avx512_vnni/arch.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

#endif  // QSAFE_KERNEL_ARCH_AVX512_VNNI_UKERNEL_HPP_
