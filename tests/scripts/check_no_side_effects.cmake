# Script mode: runs PROBE (tests/env_probe.cpp) under a fixed environment and checks
# that it printed exactly that environment; under strace (when available), that the
# process and its children made a single execve.
set(vars "TAPEGRAD_PROBE=1" "LC_ALL=C" "PATH=/usr/bin:/bin")
execute_process(COMMAND env -i ${vars} ${PROBE} RESULT_VARIABLE r OUTPUT_VARIABLE out)
if(r)
  message(FATAL_ERROR "the probe failed (${r})")
endif()
string(STRIP "${out}" out)
string(REPLACE "\n" ";" seen "${out}")
list(SORT seen)
set(expected ${vars})
list(SORT expected)
if(NOT seen STREQUAL expected)
  message(FATAL_ERROR "the environment changed at load:\n  given: ${expected}\n  seen:  ${seen}")
endif()

find_program(STRACE strace)
if(STRACE)
  set(log ${CMAKE_CURRENT_BINARY_DIR}/env_probe.strace)
  # LeakSanitizer cannot stop the world under a tracer: off for this run.
  execute_process(COMMAND ${STRACE} -f -e trace=execve -o ${log} env -i ${vars}
                          ASAN_OPTIONS=detect_leaks=0 ${PROBE}
                  RESULT_VARIABLE r OUTPUT_QUIET ERROR_QUIET)
  if(r)
    message(FATAL_ERROR "strace of the probe failed (${r})")
  endif()
  file(STRINGS ${log} calls REGEX "execve\\(\"[^\"]*env_probe\"")
  list(LENGTH calls n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "expected one execve of the probe, got ${n}:\n${calls}")
  endif()
  message(STATUS "one execve of the probe; environment unchanged")
else()
  message(STATUS "environment unchanged (strace not installed: exec count not checked)")
endif()
