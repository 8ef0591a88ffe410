# SPDX-License-Identifier: MIT
#
# Included by the top-level CMakeLists.txt with -DSB_FUZZ=ON (scripts/test.sh
# sets it): builds tests/fuzz with clang as a project of its own (the bridge
# builds with gcc; libFuzzer needs clang) into <build>/fuzz, and gives every
# target two ctests, label `fuzz` (docs/fuzzing.md):
#   fuzz.<target>.replay  every committed input once: the corpus and the
#                         crash regressions (fast, deterministic)
#   fuzz.<target>.run     SB_FUZZ_SECONDS of fuzzing from them (bounded; a
#                         crash it finds is left in <build>/fuzz/work/<target>)
include(ExternalProject)
find_program(SB_CLANG NAMES clang clang-14 clang-15 clang-16)
if(NOT SB_CLANG)
  message(FATAL_ERROR "SB_FUZZ=ON needs clang (scripts/setup.sh installs it)")
endif()
set(SB_FUZZ_SECONDS 15 CACHE STRING "Seconds each fuzz.<target>.run test fuzzes")

ExternalProject_Add(sb_fuzzers
  SOURCE_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz
  BINARY_DIR ${CMAKE_BINARY_DIR}/fuzz
  CMAKE_ARGS -DCMAKE_C_COMPILER=${SB_CLANG} -DCMAKE_BUILD_TYPE=RelWithDebInfo
             -DSB_WERROR=${SB_WERROR}
  INSTALL_COMMAND ""
  BUILD_ALWAYS ON)

include(${CMAKE_SOURCE_DIR}/tests/fuzz/targets.cmake)
set(SB_FUZZ_RUN ${CMAKE_SOURCE_DIR}/tests/fuzz/run.sh)
foreach(t ${SB_FUZZ_TARGETS})
  set(bin ${CMAKE_BINARY_DIR}/fuzz/fuzz_${t})
  add_test(NAME fuzz.${t}.replay COMMAND ${SB_FUZZ_RUN} replay ${t} ${bin})
  set_tests_properties(fuzz.${t}.replay PROPERTIES LABELS fuzz TIMEOUT 120)
  add_test(NAME fuzz.${t}.run COMMAND ${SB_FUZZ_RUN} fuzz ${t} ${bin} ${SB_FUZZ_SECONDS}
    ${CMAKE_BINARY_DIR}/fuzz/work/${t})
  # libFuzzer stops at max_total_time; the margin is for loading the corpus
  math(EXPR timeout "${SB_FUZZ_SECONDS} + 90")
  set_tests_properties(fuzz.${t}.run PROPERTIES LABELS fuzz TIMEOUT ${timeout})
endforeach()
