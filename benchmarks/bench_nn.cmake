# The executor's kernels compiled once (qsafe_model_kernels in the top-level CMakeLists.txt), unless
# the layer targets are built for the scalar path only: this benchmark measures the dispatched paths.
if(NOT QSAFE_LAYERS_SCALAR_ONLY)
  target_link_libraries(qsafe_bench_nn PRIVATE qsafe_model_kernels)
endif()
