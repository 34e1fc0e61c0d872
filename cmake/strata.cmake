# strata_cc_library(NAME <name> HDRS ... SRCS ... DEPS ...)
# One target per libs/ folder, aliased as strata::<name>. Header-only when
# SRCS is empty. Includes resolve from the repository root.
function(strata_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "HDRS;SRCS;DEPS" ${ARGN})
  set(target strata_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS} ${ARG_HDRS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} PUBLIC ${ARG_DEPS})
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
  endif()
  add_library(strata::${ARG_NAME} ALIAS ${target})
endfunction()

# strata_cc_test(NAME <name> SRCS ... DEPS ... [LABELS ...])
# A GoogleTest binary whose cases are registered with CTest one by one.
function(strata_cc_test)
  if(NOT STRATA_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  target_compile_options(${ARG_NAME} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS "${ARG_LABELS}")
endfunction()

# strata_configure_sanitizers()
# Called once from the top-level CMakeLists.txt, before any target. With
# STRATA_SANITIZE or STRATA_FUZZ, every target of the tree (libraries, tests,
# binaries) is built with ASan and UBSan; a UBSan finding aborts like an ASan
# one. STRATA_FUZZ also instruments everything for libFuzzer's coverage and
# needs clang (-DCMAKE_CXX_COMPILER=clang++-14). Debian's gRPC, protobuf,
# RocksDB and Abseil stay uninstrumented: scripts/sanitize says what that
# implies.
function(strata_configure_sanitizers)
  if(NOT STRATA_SANITIZE AND NOT STRATA_FUZZ)
    return()
  endif()
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # gRPC's headers give gpr_mu an extra member under ASan; Debian's libgrpc
  # was built without it, so keep the layout the library has.
  add_compile_definitions(GRPC_ASAN_SUPPRESSED)
  if(STRATA_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      message(FATAL_ERROR "STRATA_FUZZ needs clang: configure with "
                          "-DCMAKE_CXX_COMPILER=clang++-14 (see scripts/fuzz)")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link)
    add_custom_target(strata_fuzzers)
  endif()
endfunction()

# strata_cc_fuzz(NAME <name> SRCS ... DEPS ...)
# A libFuzzer binary, built only when STRATA_FUZZ is ON; its seed corpus is
# fuzz/corpus/<name>/. The target `strata_fuzzers` builds all of them, and
# scripts/fuzz builds and runs them.
function(strata_cc_fuzz)
  if(NOT STRATA_FUZZ)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_compile_options(${ARG_NAME} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
  add_dependencies(strata_fuzzers ${ARG_NAME})
endfunction()
