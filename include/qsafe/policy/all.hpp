// qsafe/policy/all.hpp: every range policy, and the one list of them. A new policy is one header
// in policy/ plus one #include and one entry here; tests/policy/ runs the contract test over the
// list.
#ifndef QSAFE_POLICY_ALL_HPP_
#define QSAFE_POLICY_ALL_HPP_

#include <tuple>

#include "qsafe/policy/dynamic_range.hpp"
#include "qsafe/policy/guarded_range.hpp"
#include "qsafe/policy/range_policy.hpp"
#include "qsafe/policy/static_range.hpp"

namespace qsafe {

using all_range_policies = std::tuple<StaticRange, DynamicRange<PerTensor>, DynamicRange<PerRow>,
                                      GuardedRange<PerTensor>, GuardedRange<PerRow>>;

}  // namespace qsafe

#endif  // QSAFE_POLICY_ALL_HPP_
