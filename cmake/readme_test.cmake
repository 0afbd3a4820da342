# README.md's usage snippet is compiled and run as part of the test suite so that it stays true:
# the first ```cpp block is extracted at build time (extract_readme_snippet.cmake) into the target
# qsafe_test_readme, which tests/CMakeLists.txt creates from tests/readme/readme_test.cpp.
if(NOT TARGET qsafe_test_readme)
  return()
endif()
set(qsafe_readme_dir ${CMAKE_CURRENT_BINARY_DIR}/readme_snippet)
add_custom_command(
  OUTPUT ${qsafe_readme_dir}/stamp
  BYPRODUCTS ${qsafe_readme_dir}/readme_includes.inc ${qsafe_readme_dir}/readme_body.inc
  COMMAND ${CMAKE_COMMAND} -DREADME=${CMAKE_CURRENT_SOURCE_DIR}/README.md -DOUT_DIR=${qsafe_readme_dir}
          -DSTAMP=${qsafe_readme_dir}/stamp -P ${CMAKE_CURRENT_LIST_DIR}/extract_readme_snippet.cmake
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/README.md ${CMAKE_CURRENT_LIST_DIR}/extract_readme_snippet.cmake
  COMMENT "Extracting README.md's usage snippet"
  VERBATIM)
add_custom_target(qsafe_readme_snippet DEPENDS ${qsafe_readme_dir}/stamp)
add_dependencies(qsafe_test_readme qsafe_readme_snippet)
target_include_directories(qsafe_test_readme PRIVATE ${qsafe_readme_dir})
