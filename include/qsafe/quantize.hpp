// qsafe/quantize.hpp: the firmware-safe core umbrella. Everything reachable from here compiles with
// -fno-exceptions -fno-rtti, never throws and never allocates on a hot path.
#ifndef QSAFE_QUANTIZE_HPP_
#define QSAFE_QUANTIZE_HPP_

#include "qsafe/config.hpp"
#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/kernel/conv2d.hpp"
#include "qsafe/kernel/depthwise.hpp"
#include "qsafe/kernel/gemm.hpp"
#include "qsafe/kernel/gemm_dynamic.hpp"
#include "qsafe/observer/all.hpp"
#include "qsafe/policy/all.hpp"
#include "qsafe/quantizer/fake_quant.hpp"
#include "qsafe/quantizer/granularity.hpp"
#include "qsafe/quantizer/int4_pack.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"
#include "qsafe/quantizer/quantizer.hpp"

#endif  // QSAFE_QUANTIZE_HPP_
