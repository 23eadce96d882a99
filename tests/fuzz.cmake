# Fuzz targets (tests/fuzz/, libFuzzer): the IDX reader, the npz reader, checkpoint
# loading into a model, and the convolutions' argument checks. Built when the compiler
# is clang and TAPEGRAD_FUZZ is on (the whole tree is then compiled with coverage
# instrumentation, see the top-level CMakeLists.txt). Each runs for
# TAPEGRAD_FUZZ_SECONDS (default 30) in the test suite, starting from seeds written by
# tapegrad's own writers (the fuzz_seeds fixture); run one longer with e.g.
#   build-asan/tests/fuzz_npz -max_total_time=3600 -dict=tests/fuzz/npz.dict \
#       build-asan/fuzz-corpus/npz build-asan/fuzz-seeds/npz
if(TAPEGRAD_FUZZ)
  set(TAPEGRAD_FUZZ_SECONDS 30 CACHE STRING "Seconds each fuzz target runs in the test suite")
  set(seeds ${PROJECT_BINARY_DIR}/fuzz-seeds)
  add_executable(fuzz_seeds fuzz/seeds.cpp)
  target_link_libraries(fuzz_seeds PRIVATE tapegrad::tapegrad)
  add_test(NAME fuzz_seeds COMMAND fuzz_seeds ${seeds})
  set_tests_properties(fuzz_seeds PROPERTIES FIXTURES_SETUP fuzz_seeds)
  foreach(t idx npz checkpoint conv_args)
    add_executable(fuzz_${t} fuzz/fuzz_${t}.cpp)
    target_link_libraries(fuzz_${t} PRIVATE tapegrad::tapegrad)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    set(corpus ${PROJECT_BINARY_DIR}/fuzz-corpus/${t})
    set(dict "")
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${t}.dict)
      set(dict -dict=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${t}.dict)
    endif()
    add_test(NAME fuzz_${t}
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
              ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:fuzz_${t}> -DCORPUS=${corpus}
              -DSEEDS=${seeds}/${t} -DSECONDS=${TAPEGRAD_FUZZ_SECONDS} "-DDICT=${dict}"
              -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/run_fuzzer.cmake)
    set_tests_properties(fuzz_${t} PROPERTIES FIXTURES_REQUIRED fuzz_seeds LABELS fuzz
                         TIMEOUT 600)
  endforeach()
endif()
