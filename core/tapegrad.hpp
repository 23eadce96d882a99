#pragma once
// Umbrella header: everything a training program needs.
#include <tapegrad/core/blas.hpp>
#include <tapegrad/core/gradcheck.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/core/tensor.hpp>
