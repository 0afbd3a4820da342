// benchmarks/peers/onednn_matmul.hpp: oneDNN's matmul primitive as the peer of qsafe's GEMM
// benchmarks, set up one way for every output: u8 A (row-major, a src zero point) times s8 B whose
// memory format is `any` (reordered once, outside the timing, into oneDNN's preferred blocked
// layout), a user-mode scratchpad allocated once (as an engine would), and optionally an s32 bias,
// per-output-channel output scales (mask 2) and a dst zero point. oneDNN's output scale multiplies
// (acc + bias) as floats, the formula of qsafe's AddBias + RequantizeFloat / Dequantize.
#ifndef QSAFE_BENCHMARKS_PEERS_ONEDNN_MATMUL_HPP_
#define QSAFE_BENCHMARKS_PEERS_ONEDNN_MATMUL_HPP_

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace qsafe_bench {

// C[M, N] = out((A[M, K] - src_zero_point) * B[K, N]).
struct MatmulProblem {
  std::int64_t m, k, n;
  const std::uint8_t* a;  // [M, K] row-major
  const std::int8_t* b;   // [K, N] row-major
  std::int32_t src_zero_point;
  dnnl::memory::data_type dst_type;            // s32, f32 or u8
  const std::vector<float>* scales = nullptr;  // per output channel (N), or none
  const std::int32_t* bias = nullptr;          // s32 [N], or none
  const std::int32_t* dst_zero_point = nullptr;
};

// Times oneDNN's matmul on `p` (the benchmark's loop) and returns the implementation oneDNN chose.
// The caller sets its own counters and label.
inline std::string run_onednn_matmul(benchmark::State& st, const MatmulProblem& p) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const memory::dims a_dims = {p.m, p.k}, b_dims = {p.k, p.n}, c_dims = {p.m, p.n};
  const memory::desc a_md(a_dims, memory::data_type::u8, memory::format_tag::ab);
  const memory::desc b_any(b_dims, memory::data_type::s8, memory::format_tag::any);
  const memory::desc bias_md({1, p.n}, memory::data_type::s32, memory::format_tag::ab);
  const memory::desc c_md(c_dims, p.dst_type, memory::format_tag::ab);
  primitive_attr attr;
  attr.set_zero_points(DNNL_ARG_SRC, 0, {p.src_zero_point});
  if (p.dst_zero_point != nullptr) attr.set_zero_points(DNNL_ARG_DST, 0, {*p.dst_zero_point});
  if (p.scales != nullptr) attr.set_output_scales(1 << 1, *p.scales);
  attr.set_scratchpad_mode(scratchpad_mode::user);  // scratch allocated once, as an engine would
  const matmul::primitive_desc pd(
      p.bias != nullptr ? matmul::desc(a_md, b_any, bias_md, c_md) : matmul::desc(a_md, b_any, c_md), attr, eng);
  memory a_mem(a_md, eng, const_cast<std::uint8_t*>(p.a));
  memory b_user({b_dims, memory::data_type::s8, memory::format_tag::ab}, eng, const_cast<std::int8_t*>(p.b));
  memory b_mem(pd.weights_desc(), eng);
  reorder(b_user, b_mem).execute(strm, b_user, b_mem);  // once: weights in oneDNN's preferred layout
  strm.wait();
  memory c_mem(c_md, eng);
  memory scratch(pd.scratchpad_desc(), eng);
  memory bias_mem(bias_md, eng, const_cast<std::int32_t*>(p.bias));
  const matmul prim(pd);
  for (auto _ : st) {
    // The argument map is built per call, as oneDNN's examples do.
    if (p.bias != nullptr) {
      prim.execute(strm, {{DNNL_ARG_SRC, a_mem},
                          {DNNL_ARG_WEIGHTS, b_mem},
                          {DNNL_ARG_BIAS, bias_mem},
                          {DNNL_ARG_DST, c_mem},
                          {DNNL_ARG_SCRATCHPAD, scratch}});
    } else {
      prim.execute(
          strm,
          {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}, {DNNL_ARG_SCRATCHPAD, scratch}});
    }
    strm.wait();
    benchmark::ClobberMemory();
  }
  return pd.impl_info_str();
}

}  // namespace qsafe_bench

#endif  // QSAFE_BENCHMARKS_PEERS_ONEDNN_MATMUL_HPP_
