// qsafe/kernel/arch/avx_vnni/ukernel.hpp: (placeholder) no kernel of its own yet, so the primary
// GemmUkernel template makes this path inherit its parent's.
#ifndef QSAFE_KERNEL_ARCH_AVX_VNNI_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_AVX_VNNI_UKERNEL_HPP_

#include "qsafe/kernel/arch/avx_vnni/arch.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

#endif  // QSAFE_KERNEL_ARCH_AVX_VNNI_UKERNEL_HPP_
