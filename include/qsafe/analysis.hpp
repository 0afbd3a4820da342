// qsafe/analysis.hpp: the host-side analysis umbrella (may allocate, never throws): the Engine
// interface and configurations, metrics, corruptions and groups, evaluation over groups,
// per-layer sensitivity, calibration robustness, failure search, saturation accounting and the
// mixed-precision planner. docs/analysis.md describes each one, its parameters and its cost.
#ifndef QSAFE_ANALYSIS_HPP_
#define QSAFE_ANALYSIS_HPP_

#include "qsafe/analysis/calibration_robustness.hpp"
#include "qsafe/analysis/corruptions.hpp"
#include "qsafe/analysis/dataset.hpp"
#include "qsafe/analysis/engine.hpp"
#include "qsafe/analysis/evaluate.hpp"
#include "qsafe/analysis/failure_search.hpp"
#include "qsafe/analysis/metrics.hpp"
#include "qsafe/analysis/mixed_precision.hpp"
#include "qsafe/analysis/saturation.hpp"
#include "qsafe/analysis/sensitivity.hpp"
#include "qsafe/analysis/suite.hpp"

#endif  // QSAFE_ANALYSIS_HPP_
