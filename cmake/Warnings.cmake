# Project-wide warnings for our own targets (not third-party headers, which come in as SYSTEM).
# -Wshadow=local is GCC's; clang (the fuzz build) has no such option.
# TGPULSE_WERROR=ON makes every warning an error (make build-clang, CI's clang-15 build).
option(TGPULSE_WERROR "Treat warnings as errors in our own targets" OFF)
function(tgpulse_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local> -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wdouble-promotion
    -Wformat=2 -Wimplicit-fallthrough -Wno-missing-field-initializers
    $<$<BOOL:${TGPULSE_WERROR}>:-Werror>)
endfunction()
