# qsafe_bench_quantize: the default build uses the baseline ISA (SSE2 on x86-64), as consumers get
# without flags. QSAFE_BENCH_NATIVE=ON builds it with -march=native instead. Independently, when
# the compiler accepts the flags, qsafe_bench_quantize_avx2 and qsafe_bench_quantize_avx512 are
# built from the same source with the ISA fixed, so one build measures every xsimd path.
# (Included from benchmarks/CMakeLists.txt with `name` = bench_quantize.)
option(QSAFE_BENCH_NATIVE "Build qsafe_bench_quantize with -march=native" OFF)
if(QSAFE_BENCH_NATIVE)
  target_compile_options(qsafe_bench_quantize PRIVATE -march=native)
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  include(CheckCXXCompilerFlag)
  check_cxx_compiler_flag("-mavx2 -mfma" QSAFE_CXX_HAS_AVX2)
  check_cxx_compiler_flag("-mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512cd" QSAFE_CXX_HAS_AVX512)
  if(QSAFE_CXX_HAS_AVX2)
    add_executable(qsafe_bench_quantize_avx2 ${CMAKE_CURRENT_SOURCE_DIR}/bench_quantize.cpp)
    target_link_libraries(qsafe_bench_quantize_avx2 PRIVATE qsafe::qsafe qsafe_warnings benchmark::benchmark)
    target_compile_options(qsafe_bench_quantize_avx2 PRIVATE -mavx2 -mfma)
  endif()
  if(QSAFE_CXX_HAS_AVX512)
    add_executable(qsafe_bench_quantize_avx512 ${CMAKE_CURRENT_SOURCE_DIR}/bench_quantize.cpp)
    target_link_libraries(qsafe_bench_quantize_avx512 PRIVATE qsafe::qsafe qsafe_warnings benchmark::benchmark)
    target_compile_options(qsafe_bench_quantize_avx512 PRIVATE -mavx2 -mfma -mavx512f -mavx512bw -mavx512dq
                                                               -mavx512vl -mavx512cd)
  endif()
endif()
