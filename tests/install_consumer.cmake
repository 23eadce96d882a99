# ctest entry: install tapegrad into a scratch prefix and build + run an out-of-tree
# consumer project against it with find_package(tapegrad).
if(NOT TAPEGRAD_SANITIZE)
  add_test(NAME install_and_consume
    COMMAND ${CMAKE_COMMAND}
      -DBUILD_DIR=${CMAKE_BINARY_DIR}
      -DSOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumer
      -DWORK_DIR=${CMAKE_BINARY_DIR}/consumer-test
      -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run_consumer.cmake)
endif()
