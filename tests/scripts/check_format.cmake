# Script mode: fails, naming the files, when a C++ file of the project differs from
# what clang-format makes of it. Fix with: clang-format -i <files>.
file(GLOB_RECURSE files
     ${SOURCE_DIR}/core/*.cpp ${SOURCE_DIR}/core/*.hpp ${SOURCE_DIR}/layers/*.cpp
     ${SOURCE_DIR}/layers/*.hpp ${SOURCE_DIR}/optim/*.cpp ${SOURCE_DIR}/optim/*.hpp
     ${SOURCE_DIR}/tests/*.cpp ${SOURCE_DIR}/tests/*.hpp ${SOURCE_DIR}/examples/*.cpp
     ${SOURCE_DIR}/examples/*.hpp ${SOURCE_DIR}/bench/*.cpp ${SOURCE_DIR}/bench/*.hpp)
set(bad "")
foreach(f ${files})
  execute_process(COMMAND ${CLANG_FORMAT} --dry-run -Werror ${f} RESULT_VARIABLE r
                  OUTPUT_QUIET ERROR_QUIET)
  if(r)
    file(RELATIVE_PATH rel ${SOURCE_DIR} ${f})
    list(APPEND bad ${rel})
  endif()
endforeach()
list(LENGTH files n)
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "files that differ from .clang-format (clang-format -i them):\n  ${text}")
endif()
message(STATUS "${n} files match .clang-format")
