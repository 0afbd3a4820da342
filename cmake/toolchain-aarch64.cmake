# Cross-compiling qsafe's tests for aarch64 Linux (Debian g++-aarch64-linux-gnu; or Clang with
# -DQSAFE_CROSS_CLANG=ON), run under qemu-aarch64 -L /usr/aarch64-linux-gnu. Used by
# scripts/ci/40-neon.sh with tests/cross/CMakeLists.txt.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(QSAFE_CROSS_SYSROOT /usr/aarch64-linux-gnu CACHE PATH "aarch64 libraries for qemu -L")

option(QSAFE_CROSS_CLANG "Use clang++ --target=aarch64-linux-gnu instead of aarch64-linux-gnu-g++" OFF)
if(QSAFE_CROSS_CLANG)
  set(CMAKE_CXX_COMPILER clang++)
  set(CMAKE_CXX_COMPILER_TARGET aarch64-linux-gnu)
else()
  set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
endif()

# Never pick up host (x86-64) libraries or headers; programs (cmake, python) come from the host.
set(CMAKE_FIND_ROOT_PATH ${QSAFE_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(QSAFE_CROSS_QEMU_CPU "" CACHE STRING "qemu-aarch64 -cpu value for tests (empty: qemu's default, 'max')")
if(QSAFE_CROSS_QEMU_CPU)
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${QSAFE_CROSS_SYSROOT} -cpu ${QSAFE_CROSS_QEMU_CPU})
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${QSAFE_CROSS_SYSROOT})
endif()
