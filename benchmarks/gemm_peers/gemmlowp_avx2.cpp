// gemmlowp for bench_gemm, in its own translation unit built with -mavx2 -mfma and
// GEMMLOWP_ENABLE_AVX2 (bench_gemm.cmake): gemmlowp picks its
// x86 kernels at compile time (GEMMLOWP_AVX2 / GEMMLOWP_SSE4), and a baseline x86-64 build would
// measure its portable reference kernel instead. Nothing of gemmlowp is instantiated elsewhere, so
// the different flags cannot meet in one inline function (no ODR mix).
#include <cstdint>
#include <tuple>

#include <public/gemmlowp.h>

#include "gemm_peers.hpp"

namespace bench_gemm_peers {

struct GemmlowpContext {
  gemmlowp::GemmContext context;
};

GemmlowpContext* gemmlowp_create(int threads) {
  auto* c = new GemmlowpContext;
  c->context.set_max_num_threads(threads);
  return c;
}

void gemmlowp_destroy(GemmlowpContext* c) { delete c; }

const char* gemmlowp_kernel_flavour() {
#if defined(GEMMLOWP_AVX2)
  return "avx2";
#elif defined(GEMMLOWP_SSE4)
  return "sse4";
#else
  return "reference";
#endif
}

void gemmlowp_u8u8_s32(GemmlowpContext* c, const std::uint8_t* a, const std::uint8_t* b_colmajor, std::int32_t* out,
                       int m, int k, int n, int lhs_offset, int rhs_offset) {
  const gemmlowp::MatrixMap<const std::uint8_t, gemmlowp::MapOrder::RowMajor> lhs(a, m, k);
  const gemmlowp::MatrixMap<const std::uint8_t, gemmlowp::MapOrder::ColMajor> rhs(b_colmajor, k, n);
  gemmlowp::MatrixMap<std::int32_t, gemmlowp::MapOrder::RowMajor> result(out, m, n);
  const std::tuple<> empty_pipeline;
  gemmlowp::GemmWithOutputPipeline<std::uint8_t, std::int32_t, gemmlowp::DefaultL8R8BitDepthParams>(
      &c->context, lhs, rhs, &result, lhs_offset, rhs_offset, empty_pipeline);
}

}  // namespace bench_gemm_peers
