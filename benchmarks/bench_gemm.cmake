# Peers of bench_gemm.cpp: oneDNN (libdnnl-dev), gemmlowp (libgemmlowp-dev, header-only use, in its
# own AVX2 translation unit), Eigen. Included from benchmarks/CMakeLists.txt with target
# qsafe_bench_gemm.
find_package(dnnl CONFIG REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(Threads REQUIRED)
find_path(QSAFE_GEMMLOWP_INCLUDE_DIR public/gemmlowp.h PATH_SUFFIXES gemmlowp REQUIRED)
target_sources(qsafe_bench_gemm PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/gemm_peers/gemmlowp_avx2.cpp)
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/gemm_peers/gemmlowp_avx2.cpp PROPERTIES
  COMPILE_DEFINITIONS GEMMLOWP_ENABLE_AVX2
  COMPILE_OPTIONS "-mavx2;-mfma;-Wno-unused-parameter;-Wno-sign-compare;-Wno-pedantic")
target_include_directories(qsafe_bench_gemm PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_include_directories(qsafe_bench_gemm SYSTEM PRIVATE ${QSAFE_GEMMLOWP_INCLUDE_DIR})
target_link_libraries(qsafe_bench_gemm PRIVATE DNNL::dnnl Eigen3::Eigen Threads::Threads)
