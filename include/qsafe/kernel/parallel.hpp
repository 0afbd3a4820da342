// qsafe/kernel/parallel.hpp: the threading hook. qsafe never creates threads; an engine that has a
// pool passes one, and kernels split their work into independent tasks through it.
#ifndef QSAFE_KERNEL_PARALLEL_HPP_
#define QSAFE_KERNEL_PARALLEL_HPP_

#include <cstdint>

namespace qsafe {

// run(pool, count, body, context) must call body(context, begin, end) over disjoint ranges that
// cover [0, count) exactly once, possibly concurrently, and return when all calls have returned.
// body never fails and never throws. A default-constructed ParallelFor runs everything on the
// calling thread. Results do not depend on how the range is split.
struct ParallelFor {
  using Body = void (*)(void* context, std::int64_t begin, std::int64_t end) noexcept;
  void (*run)(void* pool, std::int64_t count, Body body, void* context) = nullptr;
  void* pool = nullptr;
};

}  // namespace qsafe

#endif  // QSAFE_KERNEL_PARALLEL_HPP_
