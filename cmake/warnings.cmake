# One place for compiler warnings; every first-party target calls sparc_warnings().
function(sparc_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion -Wold-style-cast -Woverloaded-virtual)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 at -O3 reports std::string concatenations as overlapping memcpy (a known false positive).
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(SPARC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
