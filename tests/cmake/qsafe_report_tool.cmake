# tests/tools/report_tool_test.cpp runs the real qsafe-report executable (tools/qsafe-report/) end to
# end on a subset of data/digits: build it first and tell the test where it is. Without the tools
# (QSAFE_BUILD_EXAMPLES=OFF) that test is skipped with a warning.
if(TARGET qsafe_test_models AND QSAFE_BUILD_EXAMPLES)
  add_dependencies(qsafe_test_models qsafe-report)
  target_compile_definitions(qsafe_test_models PRIVATE QSAFE_REPORT_EXE="$<TARGET_FILE:qsafe-report>")
endif()
