# ctest entries of the mnist_autoencoder example (examples/mnist_autoencoder/):
#   example_mnist_smoke   2 epochs on 256 synthetic digits: outputs exist, the loss falls,
#                         the tape is empty after every step, bad options are refused
#   example_mnist_resume  2 epochs + resume to 4 == 4 epochs straight, bit for bit
# Both write their own synthetic IDX data (no download) and run in a few seconds in
# Release; sizes are small enough for the ASan+UBSan build too. The example target is
# defined later (examples/ is configured after tests/), hence the generator expression.
if(TAPEGRAD_BUILD_EXAMPLES AND EXISTS ${CMAKE_SOURCE_DIR}/examples/mnist_autoencoder/CMakeLists.txt)
  find_package(CLI11 CONFIG QUIET)  # the example is skipped without it; so are its tests
  if(CLI11_FOUND)
    foreach(mode smoke resume)
      add_test(NAME example_mnist_${mode}
        COMMAND ${CMAKE_COMMAND}
          -DEXE=$<TARGET_FILE:mnist_autoencoder>
          -DWORK_DIR=${CMAKE_BINARY_DIR}/example-mnist-${mode}
          -DMODE=${mode}
          -P ${CMAKE_SOURCE_DIR}/examples/mnist_autoencoder/smoke_test.cmake)
      set_tests_properties(example_mnist_${mode} PROPERTIES
        TIMEOUT 300 LABELS example)
    endforeach()
  endif()
endif()
