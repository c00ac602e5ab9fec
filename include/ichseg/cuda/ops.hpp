/// @file ops.hpp (cuda)
/// @brief Every tensor-level and differentiable CUDA entry point, for ops/common.hpp to include when the build
/// links ichseg::cuda (ICHSEG_WITH_CUDA=1). Host code only: no CUDA headers, includable from g++ translation units.
#pragma once

#include "ichseg/cuda/adam.hpp"
#include "ichseg/cuda/batchnorm2d.hpp"
#include "ichseg/cuda/concat.hpp"
#include "ichseg/cuda/conv2d.hpp"
#include "ichseg/cuda/global_avg_pool.hpp"
#include "ichseg/cuda/linear.hpp"
#include "ichseg/cuda/max_pool2d.hpp"
#include "ichseg/cuda/pointwise.hpp"
#include "ichseg/cuda/runtime.hpp"
#include "ichseg/cuda/softmax.hpp"
