# tests/tools/qparams_tool_test.cpp also runs the real qsafe-qparams executable (tools/): build it
# first and tell the test where it is. Without the tools (QSAFE_BUILD_EXAMPLES=OFF) that part of
# the test is skipped with a warning.
if(TARGET qsafe_test_models AND QSAFE_BUILD_EXAMPLES)
  add_dependencies(qsafe_test_models qsafe-qparams)
  target_compile_definitions(qsafe_test_models PRIVATE QSAFE_QPARAMS_EXE="$<TARGET_FILE:qsafe-qparams>")
endif()
