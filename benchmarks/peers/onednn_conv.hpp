// benchmarks/peers/onednn_conv.hpp: oneDNN's int8 convolution as the peer of qsafe's conv2d and
// depthwise benchmarks, set up the same way for both: u8 src with a zero point, s8 weights, s32
// bias, per-output-channel output scales, u8 dst with a zero point; every memory format `any`, so
// oneDNN picks its preferred blocked layouts, and the reorders into them run once, outside the
// timing. oneDNN's output scale multiplies (acc + bias) as floats, the formula of qsafe's
// AddBias + RequantizeFloat. Groups > 1 (depthwise: groups = C) use oneDNN's goihw weights.
// Also: the re-exec that makes libgomp (oneDNN's threading) single-threaded.
#ifndef QSAFE_BENCHMARKS_PEERS_ONEDNN_CONV_HPP_
#define QSAFE_BENCHMARKS_PEERS_ONEDNN_CONV_HPP_

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "qsafe/core/conv_geometry.hpp"

namespace qsafe_bench {

// libgomp reads OMP_NUM_THREADS when it is loaded, before main: if it is not set, set it and start
// the benchmark again, so every peer runs on one thread. Call first thing in main().
inline void reexec_single_threaded(char** argv) {
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    setenv("OMP_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
  }
}

// What both sides convolve: NHWC u8 input, OIHW s8 weights, int32 bias and float scale per output
// channel, the input and output zero points.
struct ConvProblem {
  const qsafe::Conv2dGeometry& g;
  const std::uint8_t* x;
  const std::int8_t* w_oihw;
  const std::int32_t* bias;
  const std::vector<float>& scale;
  std::int32_t in_zero_point;
  std::int32_t out_zero_point;
};

// Times oneDNN's convolution on `p` (the benchmark's loop) and labels it with the implementation
// oneDNN chose and whether it accepted the zero points. The caller sets its own counters.
inline void run_onednn_conv(benchmark::State& st, const ConvProblem& p) {
  using namespace dnnl;
  const qsafe::Conv2dGeometry& g = p.g;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const memory::dims src_dims = {g.batch, g.in_channels, g.in_h, g.in_w};
  const bool grouped = g.groups > 1;
  const memory::dims w_dims =
      grouped ? memory::dims{g.groups, g.out_channels / g.groups, g.in_channels / g.groups, g.kernel_h, g.kernel_w}
              : memory::dims{g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
  const memory::dims dst_dims = {g.batch, g.out_channels, g.out_h(), g.out_w()};
  const memory::dims strides = {g.stride_h, g.stride_w}, dil = {g.dilation_h - 1, g.dilation_w - 1};
  const memory::dims pad_l = {g.pad_top, g.pad_left}, pad_r = {g.pad_bottom, g.pad_right};
  const memory::desc src_any(src_dims, memory::data_type::u8, memory::format_tag::any);
  const memory::desc w_any(w_dims, memory::data_type::s8, memory::format_tag::any);
  const memory::desc b_md({g.out_channels}, memory::data_type::s32, memory::format_tag::a);
  const memory::desc dst_any(dst_dims, memory::data_type::u8, memory::format_tag::any);
  const convolution_forward::desc desc(prop_kind::forward_inference, algorithm::convolution_direct, src_any, w_any,
                                       b_md, dst_any, strides, dil, pad_l, pad_r);
  auto make_pd = [&](bool zero_points) {
    primitive_attr attr;
    attr.set_scratchpad_mode(scratchpad_mode::user);
    attr.set_output_scales(1 << 1, p.scale);
    if (zero_points) {
      attr.set_zero_points(DNNL_ARG_SRC, 0, {p.in_zero_point});
      attr.set_zero_points(DNNL_ARG_DST, 0, {p.out_zero_point});
    }
    return convolution_forward::primitive_desc(desc, attr, eng);
  };
  convolution_forward::primitive_desc pd;
  std::string label;
  try {
    pd = make_pd(true);
    label = "zero points";
  } catch (const dnnl::error&) {
    pd = make_pd(false);
    label = "no zero points (unsupported with these formats)";
  }
  label += std::string(", ") + pd.impl_info_str();
  memory src_user({src_dims, memory::data_type::u8, memory::format_tag::nhwc}, eng, const_cast<std::uint8_t*>(p.x));
  memory w_user({w_dims, memory::data_type::s8, grouped ? memory::format_tag::goihw : memory::format_tag::oihw}, eng,
                const_cast<std::int8_t*>(p.w_oihw));
  memory src_mem(pd.src_desc(), eng), w_mem(pd.weights_desc(), eng), dst_mem(pd.dst_desc(), eng);
  memory b_mem(b_md, eng, const_cast<std::int32_t*>(p.bias));
  memory scratch(pd.scratchpad_desc(), eng);
  reorder(src_user, src_mem).execute(strm, src_user, src_mem);  // once, outside timing
  reorder(w_user, w_mem).execute(strm, w_user, w_mem);
  strm.wait();
  const convolution_forward prim(pd);
  for (auto _ : st) {
    prim.execute(strm, {{DNNL_ARG_SRC, src_mem},
                        {DNNL_ARG_WEIGHTS, w_mem},
                        {DNNL_ARG_BIAS, b_mem},
                        {DNNL_ARG_DST, dst_mem},
                        {DNNL_ARG_SCRATCHPAD, scratch}});
    strm.wait();
    benchmark::ClobberMemory();
  }
  st.SetLabel(label);
}

}  // namespace qsafe_bench

#endif  // QSAFE_BENCHMARKS_PEERS_ONEDNN_CONV_HPP_
