// qsafe/kernel/arch/avx2/ukernel.hpp: (placeholder) no kernel of its own yet, so the primary
// GemmUkernel template makes this path inherit its parent's.
#ifndef QSAFE_KERNEL_ARCH_AVX2_UKERNEL_HPP_
#define QSAFE_KERNEL_ARCH_AVX2_UKERNEL_HPP_

#include "qsafe/kernel/arch/avx2/arch.hpp"
#include "qsafe/kernel/detail/ukernel.hpp"

#endif  // QSAFE_KERNEL_ARCH_AVX2_UKERNEL_HPP_
