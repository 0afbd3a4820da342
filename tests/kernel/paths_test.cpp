// Which paths this build and CPU run, the coverage guard for CI, and thread-count independence.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kernel/gemm_support.hpp"
#include "qsafe/kernel/gemm.hpp"

using qsafe::MatrixView;
using qsafe::Span;
using qsafe::Status;

TEST_CASE("paths: the expected paths are compiled and runnable (QSAFE_EXPECT_ARCHS)", "[kernel][paths]") {
  // CI sets QSAFE_EXPECT_ARCHS (comma-separated path names) on machines known to have them. The
  // path tests skip a path only when it is not available(), so a path listed here cannot be
  // skipped silently: this test fails instead.
  std::string names;
  qsafe_test::for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
    names += std::string(Isa::name) + (Isa::available() ? "(runs) " : "(not on this CPU) ");
  });
  const char* env = std::getenv("QSAFE_EXPECT_ARCHS");
  if (env == nullptr || *env == '\0') {
    WARN("QSAFE_EXPECT_ARCHS not set; compiled paths: " << names);
    return;
  }
  std::stringstream list(env);
  std::string want;
  while (std::getline(list, want, ',')) {
    if (want.empty()) continue;
    bool compiled = false, available = false;
    qsafe_test::for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
      using Isa = decltype(isa);
      if (want == Isa::name) {
        compiled = true;
        available = Isa::available();
      }
    });
    INFO("expected path '" << want << "'; compiled paths: " << names);
    CHECK(compiled);
    CHECK(available);
  }
}

TEST_CASE("paths: automatic packing picks the best available path", "[kernel][paths]") {
  std::vector<std::int8_t> w(8, 1);
  const qsafe_test::Packed p = qsafe_test::pack<qsafe::arch::automatic>(w, 2, 4);
  REQUIRE(p.status == Status::ok);
  CHECK(p.w.arch() == qsafe::arch::best_available());
  const qsafe::arch::Id best =
      qsafe::arch::dispatch(qsafe::arch::compiled{}, [](auto isa) { return decltype(isa)::id; });
  CHECK(best == qsafe::arch::best_available());
}

namespace {

// A pool of real threads: splits [0, count) into uneven chunks handed out in reverse order.
void thread_pool_run(void* pool, std::int64_t count, qsafe::ParallelFor::Body body, void* context) {
  const int threads = *static_cast<int*>(pool);
  std::vector<std::thread> workers;
  const std::int64_t chunk = count / threads + 1;
  for (int t = threads - 1; t >= 0; --t) {
    const std::int64_t begin = t * chunk, end = std::min<std::int64_t>(count, begin + chunk + (t % 2));
    const std::int64_t b = std::min(begin, count);
    if (b < end) workers.emplace_back([=] { body(context, b, end); });
  }
  for (auto& w : workers) w.join();
}

}  // namespace

TEST_CASE("paths: results are identical with any thread count", "[kernel][paths]") {
  std::mt19937 rng(21);
  const std::int64_t m = 203, n = 150, k = 77;
  auto a = qsafe_test::random_vector<std::uint8_t>(rng, static_cast<std::size_t>(m * k), 0, 255);
  auto w = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(n * k), -128, 127);
  std::vector<std::int32_t> zp{77};
  std::vector<float> sw(static_cast<std::size_t>(n), 0.01f), sa{0.02f};
  const auto pipe = qsafe::pipeline(qsafe::Dequantize{Span<const float>(sa), Span<const float>(sw), {}});
  qsafe_test::for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, n, k);
    std::vector<float> c1(static_cast<std::size_t>(m * n)), c2(c1.size());
    REQUIRE(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(a.data(), m, k), Span<const std::int32_t>(zp), p.w,
                                  pipe, MatrixView<float>(c1.data(), m, n)) == Status::ok);
    for (int threads : {2, 3, 7}) {
      qsafe::ParallelFor par;
      par.run = thread_pool_run;
      par.pool = &threads;
      std::fill(c2.begin(), c2.end(), -1.f);
      REQUIRE(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(a.data(), m, k), Span<const std::int32_t>(zp), p.w,
                                    pipe, MatrixView<float>(c2.data(), m, n), par) == Status::ok);
      INFO(Isa::name << " threads " << threads);
      CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
    }
  });
}

TEST_CASE("paths: the layer-like kernel tests run every compiled path but AVX-VNNI under the sanitizers",
          "[kernel][paths]") {
  std::string compiled, tested;
  qsafe_test::for_each_arch(qsafe::arch::compiled{},
                            [&](auto isa) { compiled += std::string(decltype(isa)::name) + " "; });
  qsafe_test::for_each_arch(qsafe_test::kernel_paths{},
                            [&](auto isa) { tested += std::string(decltype(isa)::name) + " "; });
  std::string expected;
  qsafe_test::for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
#if defined(QSAFE_TEST_SANITIZED)
    if (Isa::id == qsafe::arch::Id::avx_vnni) return;
#endif
    expected += std::string(Isa::name) + " ";
  });
  INFO("compiled: " << compiled);
  CHECK(tested == expected);
  CHECK(tested.find("scalar") != std::string::npos);
}
