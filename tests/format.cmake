# ctest entry: every C++ file of the project matches .clang-format.
find_program(TAPEGRAD_CLANG_FORMAT NAMES clang-format clang-format-14)
if(TAPEGRAD_CLANG_FORMAT)
  add_test(NAME format_check
    COMMAND ${CMAKE_COMMAND} -DCLANG_FORMAT=${TAPEGRAD_CLANG_FORMAT} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
            -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check_format.cmake)
endif()
