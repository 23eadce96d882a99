# Script mode (cmake -P): puts an installed tapegrad in a scratch prefix, then builds the
# consumer project (tests/consumer) against it and runs its executable and its
# dlopen loader with the plugin.
#   MODE=install  cmake --install BUILD_DIR into the prefix
#   MODE=deb      cpack -G DEB in BUILD_DIR, unpack libtapegrad and libtapegrad-dev
#                 with dpkg-deb -x, use their usr/ as the prefix
# SHARED: whether the build is shared (the consumer asks for the same);
# CONSUMER_FLAGS: extra compiler/linker flags (the sanitizers, when tapegrad has them).
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE r OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(r)
    message(FATAL_ERROR "failed (${r}): ${ARGN}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "deb")
  run(cpack -G DEB -B ${WORK_DIR}/pkg --config ${BUILD_DIR}/CPackConfig.cmake)
  file(GLOB debs ${WORK_DIR}/pkg/*.deb)
  set(names "")
  foreach(deb ${debs})
    run(dpkg-deb -f ${deb} Package)
    string(STRIP "${LAST_OUTPUT}" name)
    list(APPEND names ${name})
    run(dpkg-deb -x ${deb} ${WORK_DIR}/root)
  endforeach()
  list(SORT names)
  if(NOT names STREQUAL "libtapegrad;libtapegrad-dev")
    message(FATAL_ERROR "expected the packages libtapegrad and libtapegrad-dev, got: ${names}")
  endif()
  set(PREFIX ${WORK_DIR}/root/usr)
else()
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
  set(PREFIX ${WORK_DIR}/prefix)
endif()

foreach(f include/tapegrad/tapegrad.hpp include/tapegrad/core/tensor.hpp
          lib/cmake/tapegrad/tapegradConfig.cmake)
  file(GLOB found ${PREFIX}/${f} ${PREFIX}/lib/*/cmake/tapegrad/tapegradConfig.cmake)
  if(NOT EXISTS ${PREFIX}/${f} AND NOT found)
    message(FATAL_ERROR "installed tree lacks ${f}")
  endif()
endforeach()
file(GLOB_RECURSE internal ${PREFIX}/include/tapegrad/*/detail/*)
if(internal)
  message(FATAL_ERROR "internal headers were installed: ${internal}")
endif()
# The installed package must not carry build-machine flags.
file(GLOB_RECURSE target_files ${PREFIX}/lib*/tapegrad-*-targets*.cmake)
foreach(t ${target_files})
  file(READ ${t} content)
  if(content MATCHES "-march|-mtune|-O1")
    message(FATAL_ERROR "${t} exports build flags")
  endif()
endforeach()
if(SHARED)
  file(GLOB_RECURSE sonames ${PREFIX}/lib*/libtapegrad.so.*.*.*)
  list(GET sonames 0 lib)
  run(readelf -d ${lib})
  if(NOT LAST_OUTPUT MATCHES "SONAME.*libtapegrad\\.so\\.[0-9]+\\.[0-9]+\\]")
    message(FATAL_ERROR "${lib} has no versioned SONAME:\n${LAST_OUTPUT}")
  endif()
endif()

run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${PREFIX}
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=${SHARED} -DCMAKE_CXX_COMPILER=${CXX}
    "-DCMAKE_CXX_FLAGS=${CONSUMER_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CONSUMER_FLAGS}"
    "-DCMAKE_MODULE_LINKER_FLAGS=${CONSUMER_FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
# Under the sanitizers: LeakSanitizer's exit-time scan crashes once the plugin (and the
# OpenMP runtime it brought) is unloaded while its idle threads remain; the leak
# checks belong to the unit tests.
set(run_env ${CMAKE_COMMAND} -E env "ASAN_OPTIONS=$ENV{ASAN_OPTIONS}:detect_leaks=0")
run(${run_env} ${WORK_DIR}/build/consumer)
message(STATUS "consumer: ${LAST_OUTPUT}")
file(GLOB plugin ${WORK_DIR}/build/*consumer_plugin*)
run(${run_env} ${WORK_DIR}/build/consumer_loader ${plugin})
message(STATUS "loader: ${LAST_OUTPUT}")
