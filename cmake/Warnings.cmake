# Project-wide warnings for our own targets (not third-party headers, which come in as SYSTEM).
# -Wshadow=local is GCC's; clang (the fuzz build) has no such option.
function(tgpulse_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local> -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wdouble-promotion
    -Wformat=2 -Wimplicit-fallthrough -Wno-missing-field-initializers)
endfunction()
