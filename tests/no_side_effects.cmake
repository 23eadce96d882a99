# ctest entries: a program linked with tapegrad starts with one exec (no re-exec of
# itself) and sees exactly the environment it was given (the library sets nothing).
add_executable(env_probe env_probe.cpp)
target_link_libraries(env_probe PRIVATE tapegrad::tapegrad)
add_test(NAME load_leaves_environment_alone
  COMMAND ${CMAKE_COMMAND} -DPROBE=$<TARGET_FILE:env_probe>
          -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check_no_side_effects.cmake)
