# One place for compiler warnings; every first-party target calls sparc_warnings().
function(sparc_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion -Wold-style-cast -Woverloaded-virtual)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 false positives: std::string concatenations reported as overlapping memcpy (-O3), and Asio's
    # coroutine frames (class-specific operator new/delete) reported as mismatched allocations (-O2).
    target_compile_options(${target} PRIVATE -Wno-restrict -Wno-mismatched-new-delete)
  endif()
  if(SPARC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
