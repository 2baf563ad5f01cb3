# Helpers so every area declares libraries, tests and benchmarks the same way.
#
#   tgpulse_library(NAME SOURCES a.cc b.cc DEPS x y)      -> static library NAME, include root src/
#   tgpulse_test(NAME SOURCES a_test.cc DEPS x y)         -> GoogleTest binary registered with CTest
#                                                            (label "unit"; the target unit_tests builds all;
#                                                            a TSan build registers the binary as one test)
#   tgpulse_test(NAME ONE_PROCESS ARGS --gtest_filter=... SOURCES ...)
#                                                         -> the same, registered as one CTest test running the
#                                                            whole binary (with ARGS): for tests sharing a server
#                                                            the binary starts once (a gtest Environment)
#   tgpulse_bench(NAME SOURCES a_bench.cc DEPS x y)       -> Google Benchmark binary (make bench runs it)
function(tgpulse_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${A_DEPS})
  tgpulse_warnings(${name})
endfunction()

function(tgpulse_test name)
  if(NOT TGPULSE_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(A "ONE_PROCESS" "" "SOURCES;DEPS;ARGS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  tgpulse_warnings(${name})
  if(A_ONE_PROCESS)
    add_test(NAME ${name} COMMAND ${name} ${A_ARGS})
    set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 300)
  elseif(TGPULSE_SANITIZE STREQUAL "thread")
    # make test-tsan: one CTest test per binary. A TSan process takes ~0.5 s to start on a loaded 2-core
    # machine, which over every test case alone was most of the run.
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 600)
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit TIMEOUT 120)
  endif()
  if(NOT TARGET unit_tests)
    add_custom_target(unit_tests)
  endif()
  add_dependencies(unit_tests ${name})
endfunction()

function(tgpulse_bench name)
  if(NOT TGPULSE_BUILD_BENCH)
    return()
  endif()
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  tgpulse_warnings(${name})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE ${A_DEPS} benchmark::benchmark)
  set_property(GLOBAL APPEND PROPERTY TGPULSE_BENCHES ${name})
endfunction()
