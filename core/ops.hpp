#pragma once
// Every differentiable op of core: include this for all of them.
#include <tapegrad/core/ops/activation.hpp>
#include <tapegrad/core/ops/activation_extra.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/classification.hpp>
#include <tapegrad/core/ops/comparison.hpp>
#include <tapegrad/core/ops/conv.hpp>
#include <tapegrad/core/ops/dropout.hpp>
#include <tapegrad/core/ops/embedding.hpp>
#include <tapegrad/core/ops/join.hpp>
#include <tapegrad/core/ops/loss.hpp>
#include <tapegrad/core/ops/matmul.hpp>
#include <tapegrad/core/ops/normalization.hpp>
#include <tapegrad/core/ops/pad.hpp>
#include <tapegrad/core/ops/reduction.hpp>
#include <tapegrad/core/ops/shape.hpp>
#include <tapegrad/core/ops/softmax.hpp>
