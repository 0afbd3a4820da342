# The vector quantize loops pick their ISA at compile time (xsimd::default_arch), so the baseline
# test binary only covers SSE2. The same test source is built again, as separate executables (one
# ISA per executable: no ODR mixing of inline functions compiled with different -m flags), with
# AVX2+FMA and with AVX-512, when the compiler accepts the flags. Each checks that xsimd really chose
# the expected ISA (QSAFE_TEST_EXPECT_ARCH) and compares every loop with the scalar reference.
#
# A CPU without the ISA: a baseline-compiled guard (support/cpu_guard.cpp) runs before any static
# initialiser of the ISA-compiled code and exits with 77, which CTest reports as skipped; inside
# the tests, WARN + return does the same job for anyone running the binary by hand.
include(CheckCXXCompilerFlag)

set(qsafe_isa_src ${CMAKE_CURRENT_SOURCE_DIR}/quantizer/vector_loops_test.cpp)
set(qsafe_isa_guard ${CMAKE_CURRENT_SOURCE_DIR}/quantizer/support/cpu_guard.cpp)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64" AND EXISTS ${qsafe_isa_src})
  check_cxx_compiler_flag("-mavx2 -mfma" QSAFE_CXX_HAS_AVX2)
  check_cxx_compiler_flag("-mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512cd" QSAFE_CXX_HAS_AVX512)

  # name: executable suffix; guard: the CPU feature set cpu_guard.cpp checks; arch: xsimd's name
  # for the ISA it must pick; flags: the compile flags (a list).
  function(qsafe_add_quantizer_isa_test name guard arch)
    set(target qsafe_test_quantizer_${name})
    # A one-line wrapper per ISA, so the flags attach to a distinct source file (source properties
    # are per directory, and the baseline qsafe_test_quantizer compiles the original).
    set(wrapper ${CMAKE_CURRENT_BINARY_DIR}/quantizer_isa/vector_loops_test_${name}.cpp)
    file(CONFIGURE OUTPUT ${wrapper} CONTENT "#include \"${qsafe_isa_src}\"\n")
    add_executable(${target} ${wrapper} ${qsafe_isa_guard})
    target_link_libraries(${target} PRIVATE qsafe_catch_main)
    # Only the test source gets the ISA flags; the guard stays baseline so it can run anywhere.
    set_source_files_properties(${wrapper} PROPERTIES COMPILE_OPTIONS "${ARGN}")
    target_compile_definitions(${target} PRIVATE QSAFE_TEST_ISA_${guard}=1 QSAFE_TEST_EXPECT_ARCH="${arch}"
                                                 QSAFE_CPU_GUARD_${guard}=1)
    add_test(NAME "quantizer: vector loops ${name}" COMMAND ${target})
    set_tests_properties("quantizer: vector loops ${name}" PROPERTIES SKIP_RETURN_CODE 77)
  endfunction()

  if(QSAFE_CXX_HAS_AVX2)
    qsafe_add_quantizer_isa_test(avx2 AVX2 "fma3+avx2" -mavx2 -mfma)
  endif()
  if(QSAFE_CXX_HAS_AVX512)
    qsafe_add_quantizer_isa_test(avx512 AVX512 "avx512bw" -mavx2 -mfma -mavx512f -mavx512bw -mavx512dq -mavx512vl
                                 -mavx512cd)
  endif()
endif()
