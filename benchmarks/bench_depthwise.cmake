# Peer of bench_depthwise.cpp: oneDNN (libdnnl-dev), its int8 depthwise convolution.
find_package(dnnl CONFIG REQUIRED)
target_link_libraries(qsafe_bench_depthwise PRIVATE DNNL::dnnl)
