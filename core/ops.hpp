#pragma once
// Every differentiable op of core: include this for all of them.
#include <tapegrad/core/ops/activation.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/conv.hpp>
#include <tapegrad/core/ops/loss.hpp>
#include <tapegrad/core/ops/matmul.hpp>
#include <tapegrad/core/ops/pad.hpp>
#include <tapegrad/core/ops/pooling.hpp>
#include <tapegrad/core/ops/reduction.hpp>
#include <tapegrad/core/ops/shape.hpp>
#include <tapegrad/core/ops/upsample.hpp>
