# Peers of bench_gemm.cpp: oneDNN (libdnnl-dev), gemmlowp (libgemmlowp-dev, header-only use),
# Eigen. Included from benchmarks/CMakeLists.txt with target qsafe_bench_gemm.
find_package(dnnl CONFIG REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(Threads REQUIRED)
find_path(QSAFE_GEMMLOWP_INCLUDE_DIR public/gemmlowp.h PATH_SUFFIXES gemmlowp REQUIRED)
target_include_directories(qsafe_bench_gemm SYSTEM PRIVATE ${QSAFE_GEMMLOWP_INCLUDE_DIR})
target_link_libraries(qsafe_bench_gemm PRIVATE DNNL::dnnl Eigen3::Eigen Threads::Threads)
