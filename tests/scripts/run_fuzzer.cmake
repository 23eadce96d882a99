# Script mode: runs a libFuzzer target for SECONDS on a fresh corpus folder seeded from
# SEEDS, prints libFuzzer's final line (executions, coverage, features) and fails on any
# crash, leak, timeout or sanitizer report.
file(REMOVE_RECURSE ${CORPUS})
file(MAKE_DIRECTORY ${CORPUS})
execute_process(
  COMMAND ${EXE} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
          ${DICT} ${CORPUS} ${SEEDS}
  RESULT_VARIABLE r OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REGEX MATCHALL "#[0-9]+[ \t]+DONE[^\n]*" done "${err}")
string(REGEX MATCH "stat::number_of_executed_units: [0-9]+" execs "${err}")
message(STATUS "${done} | ${execs}")
if(r)
  message(FATAL_ERROR "fuzzer failed (${r}):\n${err}")
endif()
