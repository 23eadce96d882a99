# ctest entries: install this build (static or shared) into a scratch prefix, and, for a
# shared build, package it as .deb files and unpack them; each time build the consumer
# project (tests/consumer: an executable, a plugin, a dlopen loader) against the result
# and run it.
# The consumer is compiled like the library: same compiler, and the sanitizers or the
# fuzzing instrumentation when the library has them.
set(TAPEGRAD_CONSUMER_FLAGS "")
if(TAPEGRAD_SANITIZE)
  string(APPEND TAPEGRAD_CONSUMER_FLAGS " -fsanitize=address,undefined")
endif()
if(TAPEGRAD_FUZZ)
  string(APPEND TAPEGRAD_CONSUMER_FLAGS " -fsanitize=fuzzer-no-link")
endif()
add_test(NAME install_and_consume
  COMMAND ${CMAKE_COMMAND}
    -DMODE=install -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSHARED=${BUILD_SHARED_LIBS}
    -DSOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumer -DWORK_DIR=${PROJECT_BINARY_DIR}/consumer-install
    "-DCONSUMER_FLAGS=${TAPEGRAD_CONSUMER_FLAGS}" -DCXX=${CMAKE_CXX_COMPILER}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run_consumer.cmake)
if(BUILD_SHARED_LIBS AND NOT TAPEGRAD_SANITIZE)
  find_program(DPKG_DEB dpkg-deb)
  if(DPKG_DEB)
    add_test(NAME package_deb_and_consume
      COMMAND ${CMAKE_COMMAND}
        -DMODE=deb -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSHARED=ON -DCXX=${CMAKE_CXX_COMPILER}
        -DSOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumer -DWORK_DIR=${PROJECT_BINARY_DIR}/consumer-deb
        -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run_consumer.cmake)
  endif()
endif()

# A CPU that Debian's OpenBLAS does not recognise, simulated: OpenBLAS forced onto its
# generic kernel. tapegrad's GEMM tests must still pass, on tapegrad's own kernel.
add_test(NAME blas_with_generic_openblas
  COMMAND ${CMAKE_COMMAND} -E env OPENBLAS_CORETYPE=Prescott $<TARGET_FILE:tapegrad_tests>
          "--test-case=blas*,conv2d kernels: results do not depend*")
