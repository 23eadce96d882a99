# Smoke tests of the mnist_autoencoder example, run by ctest in script mode
# (registered in tests/example_mnist.cmake):
#   cmake -DEXE=<mnist_autoencoder> -DWORK_DIR=<scratch dir> -DMODE=smoke|resume -P smoke_test.cmake
# Neither may rely on downloaded MNIST: each writes a small synthetic digit-like data
# set in MNIST's IDX format with the example's --make-synthetic mode.
#
#   smoke:  2 epochs on 256 images; the run succeeds, the tape is empty after every
#           step, the four outputs exist, train loss and test MSE fall from epoch 1 to
#           2; bad options and a missing data directory fail with clear messages.
#   resume: 4 epochs in one go vs 2 epochs then --resume to 4: the checkpoints must
#           hold bit-identical parameters, optimizer state and metrics (--compare);
#           so must 4 epochs on 3 threads instead of 1.
cmake_minimum_required(VERSION 3.20)
foreach(var EXE WORK_DIR MODE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "smoke_test.cmake: pass -D${var}=...")
  endif()
endforeach()

# Runs the example with ARGN; fails the test unless the exit code is `expect_rc`
# ("fail": any non-zero code). The output (stdout and stderr) is left in `out_var`.
function(run_example expect_rc out_var)
  execute_process(COMMAND ${EXE} ${ARGN}
                  WORKING_DIRECTORY ${WORK_DIR}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(JOIN " " cmd ${ARGN})
  message(STATUS "mnist_autoencoder ${cmd}  -> exit ${rc}\n${out}${err}")
  if(expect_rc STREQUAL "fail" AND rc MATCHES "^[1-9][0-9]*$")
    # failed, as expected
  elseif(NOT rc STREQUAL expect_rc)
    message(FATAL_ERROR "mnist_autoencoder ${cmd}: exit code ${rc}, expected ${expect_rc}")
  endif()
  set(${out_var} "${out}${err}" PARENT_SCOPE)
endfunction()

# Fails unless `text` matches the regular expression `regex`.
function(expect_match text regex what)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "${what}: expected output matching '${regex}'")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
run_example(0 out --make-synthetic data)
# One thread: ctest runs tests side by side, and the result does not depend on it.
set(common --data data --batch-size 32 --threads 1)

if(MODE STREQUAL "smoke")
  run_example(0 out ${common} --limit 256 --test-limit 64 --epochs 2 --out run)
  expect_match("${out}" "256 training / 64 test images" "data limits")
  expect_match("${out}" "tape empty after each of 16 steps" "tape check")
  foreach(f checkpoint.npz metrics.csv reconstructions.png loss.png)
    if(NOT EXISTS ${WORK_DIR}/run/${f})
      message(FATAL_ERROR "missing output run/${f}")
    endif()
  endforeach()

  file(STRINGS ${WORK_DIR}/run/metrics.csv rows)
  list(LENGTH rows n)
  if(NOT n EQUAL 3)
    message(FATAL_ERROR "metrics.csv: expected a header and 2 rows, got ${n} lines")
  endif()
  list(GET rows 0 header)
  if(NOT header STREQUAL "epoch,train_loss,test_mse,seconds,images_per_sec")
    message(FATAL_ERROR "metrics.csv: unexpected header '${header}'")
  endif()
  list(GET rows 1 first)
  list(GET rows 2 second)
  string(REPLACE "," ";" first "${first}")
  string(REPLACE "," ";" second "${second}")
  list(GET first 1 train1)
  list(GET first 2 test1)
  list(GET second 1 train2)
  list(GET second 2 test2)
  if(NOT train2 LESS train1 OR NOT test2 LESS test1)
    message(FATAL_ERROR "the loss did not fall: train ${train1} -> ${train2}, test ${test1} -> ${test2}")
  endif()
  message(STATUS "loss falls: train ${train1} -> ${train2}, test MSE ${test1} -> ${test2}")

  # Misuse fails early with a message naming the problem.
  run_example(fail out --data no-such-dir --out bad)
  expect_match("${out}" "--data no-such-dir: no such directory" "missing data directory")
  run_example(fail out --data data --lr -1)
  expect_match("${out}" "--lr" "negative learning rate")
  run_example(fail out --data data --epochs 0)
  expect_match("${out}" "--epochs" "zero epochs")
  run_example(fail out --compare run/checkpoint.npz)
  expect_match("${out}" "--compare" "--compare with one file")
  # An output folder that cannot be written fails before the first epoch.
  file(WRITE ${WORK_DIR}/a-file "x")
  run_example(fail out ${common} --limit 64 --test-limit 16 --epochs 1 --out a-file/out)
  expect_match("${out}" "mnist_autoencoder --out: .*a-file/out" "unwritable --out")
  if(out MATCHES "epoch 1/1")
    message(FATAL_ERROR "the unwritable --out was noticed only after training:\n${out}")
  endif()

elseif(MODE STREQUAL "resume")
  set(args ${common} --limit 256 --test-limit 128)
  run_example(0 out ${args} --epochs 4 --out straight)
  run_example(0 out ${args} --epochs 2 --out split)
  file(COPY ${WORK_DIR}/split/checkpoint.npz DESTINATION ${WORK_DIR}/after2)
  # Seed, batch size and limits come back from the checkpoint.
  run_example(0 out --data data --threads 1 --epochs 4 --out split --resume split/checkpoint.npz)
  expect_match("${out}" "resumed from split/checkpoint.npz after epoch 2" "resume message")
  expect_match("${out}" "epoch 3/4" "resumed epochs")
  file(STRINGS ${WORK_DIR}/split/metrics.csv rows)
  list(LENGTH rows n)
  if(NOT n EQUAL 5)
    message(FATAL_ERROR "split/metrics.csv: expected a header and 4 rows, got ${n} lines")
  endif()
  run_example(0 out --compare straight/checkpoint.npz split/checkpoint.npz)
  expect_match("${out}" "identical:" "bit-identical resume")
  # The thread count does not change a single bit either (tapegrad's kernels fix every
  # summation order independently of the threads): 4 epochs on 3 threads.
  run_example(0 out --data data --batch-size 32 --limit 256 --test-limit 128 --threads 3
              --epochs 4 --out threads3)
  run_example(0 out --compare straight/checkpoint.npz threads3/checkpoint.npz)
  expect_match("${out}" "identical:" "bit-identical on 1 and 3 threads")
  # And --compare does notice a difference (4 epochs vs 2).
  run_example(1 out --compare straight/checkpoint.npz after2/checkpoint.npz)
  expect_match("${out}" "differs: model.encoder.0.weight" "--compare reports differences")
else()
  message(FATAL_ERROR "smoke_test.cmake: unknown MODE '${MODE}' (smoke or resume)")
endif()
