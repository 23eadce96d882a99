# ctest entry: the include arrows of docs/design.md ("The house") point down only.
add_test(NAME architecture_include_arrows
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check_architecture.cmake)
