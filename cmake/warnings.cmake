# One place for compiler warnings; every first-party target calls sparc_warnings().
function(sparc_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion -Wold-style-cast -Woverloaded-virtual)
  if(SPARC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
