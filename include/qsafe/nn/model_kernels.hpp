// qsafe/nn/model_kernels.hpp: the kernel entry points the executor (quantized_model.hpp) calls, and
// an opt-in way to compile them once per program instead of once per translation unit.
//
// The executor runs quantized conv2d / linear layers through six kernel specializations: the GEMM,
// conv2d and depthwise conv2d, each with the static (uint8 requantized into int32 storage) and the
// float-out pipeline. Each specialization compiles every kernel path the build dispatches to
// (scalar, AVX2, AVX-512 VNNI, AVX-VNNI), about 12 s of GCC -O3 per translation unit that uses the
// executor. A program with several such translation units can compile them once:
//
//   every TU that includes the executor:  -DQSAFE_EXTERN_MODEL_KERNELS   (extern template declarations)
//   exactly one TU of the program:        #define QSAFE_DEFINE_MODEL_KERNELS
//                                         #include <qsafe/nn/model_kernels.hpp>
//
// Both macros must see the same kernel configuration (QSAFE_NO_RUNTIME_DISPATCH, -m flags). Without
// either macro nothing changes: every TU instantiates what it uses, as with any template.
#ifndef QSAFE_NN_MODEL_KERNELS_HPP_
#define QSAFE_NN_MODEL_KERNELS_HPP_

#include <cstdint>

#include "qsafe/kernel/conv2d.hpp"
#include "qsafe/kernel/depthwise.hpp"
#include "qsafe/kernel/gemm.hpp"
#include "qsafe/kernel/output_stage.hpp"

namespace qsafe {
namespace nn {

// static_u8 layers: bias, then PyTorch's float requantization, stored as int32 (the executor clamps
// and narrows after the optional fused ReLU).
using StaticOutPipeline = OutputPipeline<AddBias, RequantizeFloat>;
// float_out layers: dequantize with the per-sample / per-row activation scale and the float bias.
using FloatOutPipeline = OutputPipeline<Dequantize>;

}  // namespace nn
}  // namespace qsafe

// The six specializations, as explicit instantiations prefixed by `kind` (`extern template` or
// `template`). Default arguments are not repeated: an explicit instantiation may not carry them.
#define QSAFE_NN_MODEL_KERNELS(kind)                                                                                \
  kind Status gemm<arch::automatic, std::uint8_t, nn::StaticOutPipeline, std::int32_t>(                             \
      MatrixView<const std::uint8_t>, Span<const std::int32_t>, const PackedWeights&, const nn::StaticOutPipeline&, \
      MatrixView<std::int32_t>, Span<std::byte>, const ParallelFor&) noexcept;                                      \
  kind Status gemm<arch::automatic, std::uint8_t, nn::FloatOutPipeline, float>(                                     \
      MatrixView<const std::uint8_t>, Span<const std::int32_t>, const PackedWeights&, const nn::FloatOutPipeline&,  \
      MatrixView<float>, Span<std::byte>, const ParallelFor&) noexcept;                                             \
  kind Status conv2d<arch::automatic, std::uint8_t, nn::StaticOutPipeline, std::int32_t>(                           \
      const Conv2dGeometry&, Span<const std::uint8_t>, std::int32_t, const PackedConv2dWeights&,                    \
      const nn::StaticOutPipeline&, Span<std::int32_t>, Span<std::byte>, const ParallelFor&) noexcept;              \
  kind Status conv2d<arch::automatic, std::uint8_t, nn::FloatOutPipeline, float>(                                   \
      const Conv2dGeometry&, Span<const std::uint8_t>, std::int32_t, const PackedConv2dWeights&,                    \
      const nn::FloatOutPipeline&, Span<float>, Span<std::byte>, const ParallelFor&) noexcept;                      \
  kind Status depthwise_conv2d<arch::automatic, std::uint8_t, nn::StaticOutPipeline, std::int32_t>(                 \
      const Conv2dGeometry&, Span<const std::uint8_t>, std::int32_t, const DepthwiseWeights&,                       \
      const nn::StaticOutPipeline&, Span<std::int32_t>, const ParallelFor&) noexcept;                               \
  kind Status depthwise_conv2d<arch::automatic, std::uint8_t, nn::FloatOutPipeline, float>(                         \
      const Conv2dGeometry&, Span<const std::uint8_t>, std::int32_t, const DepthwiseWeights&,                       \
      const nn::FloatOutPipeline&, Span<float>, const ParallelFor&) noexcept;

#ifdef QSAFE_EXTERN_MODEL_KERNELS
namespace qsafe {
QSAFE_NN_MODEL_KERNELS(extern template)
}  // namespace qsafe
#endif

#endif  // QSAFE_NN_MODEL_KERNELS_HPP_

// Outside the include guard: the defining TU may have included the executor (and so this header)
// before defining the macro. An explicit instantiation definition after the extern declaration of
// the same specialization is allowed.
#if defined(QSAFE_DEFINE_MODEL_KERNELS) && !defined(QSAFE_NN_MODEL_KERNELS_DEFINED_)
#define QSAFE_NN_MODEL_KERNELS_DEFINED_
namespace qsafe {
QSAFE_NN_MODEL_KERNELS(template)
}  // namespace qsafe
#endif
