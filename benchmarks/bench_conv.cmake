# Peer of bench_conv.cpp: oneDNN's int8 convolution (libdnnl-dev). Included from
# benchmarks/CMakeLists.txt with target qsafe_bench_conv.
find_package(dnnl CONFIG REQUIRED)
target_link_libraries(qsafe_bench_conv PRIVATE DNNL::dnnl)
# oneDNN reports unsupported attributes by throwing dnnl::error; the benchmark catches it to fall back.
target_compile_options(qsafe_bench_conv PRIVATE -fexceptions)
