// Peers of bench_gemm built in their own translation units (see each .cpp for why).
#ifndef QSAFE_BENCHMARKS_GEMM_PEERS_HPP_
#define QSAFE_BENCHMARKS_GEMM_PEERS_HPP_

#include <cstdint>

namespace bench_gemm_peers {

struct GemmlowpContext;
GemmlowpContext* gemmlowp_create(int threads);
void gemmlowp_destroy(GemmlowpContext* c);
const char* gemmlowp_kernel_flavour();
// out[m][n] = sum_k (a[m][k] + lhs_offset) * (b[k][n] + rhs_offset); a row-major, b column-major.
void gemmlowp_u8u8_s32(GemmlowpContext* c, const std::uint8_t* a, const std::uint8_t* b_colmajor, std::int32_t* out,
                       int m, int k, int n, int lhs_offset, int rhs_offset);

}  // namespace bench_gemm_peers

#endif  // QSAFE_BENCHMARKS_GEMM_PEERS_HPP_
