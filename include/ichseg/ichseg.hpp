/// @file ichseg.hpp
/// @brief Umbrella header: everything a CPU program needs to build, train and checkpoint the study's networks.
/// Includes no CUDA header; the NIfTI/DICOM layer (ichseg/io/nifti.hpp, dicom.hpp) is included separately
/// because it needs DCMTK and nifticlib at link time.
#pragma once

#include "ichseg/config.hpp"
#include "ichseg/core/parallel.hpp"
#include "ichseg/core/precision.hpp"
#include "ichseg/core/rng.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/autograd/grad_mode.hpp"
#include "ichseg/autograd/variable.hpp"

#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/ops/batchnorm2d.hpp"
#include "ichseg/ops/concat.hpp"
#include "ichseg/ops/conv2d.hpp"
#include "ichseg/ops/conv_transpose2d.hpp"
#include "ichseg/ops/dropout.hpp"
#include "ichseg/ops/global_avg_pool.hpp"
#include "ichseg/ops/linear.hpp"
#include "ichseg/ops/max_pool2d.hpp"
#include "ichseg/ops/relu.hpp"
#include "ichseg/ops/reshape.hpp"
#include "ichseg/ops/sigmoid.hpp"
#include "ichseg/ops/softmax.hpp"

#include "ichseg/loss/bce_with_logits.hpp"
#include "ichseg/loss/cross_entropy.hpp"
#include "ichseg/loss/dice.hpp"
#include "ichseg/loss/local_contrastive.hpp"
#include "ichseg/loss/mse.hpp"
#include "ichseg/loss/nt_xent.hpp"

#include "ichseg/nn/activation.hpp"
#include "ichseg/nn/batchnorm2d.hpp"
#include "ichseg/nn/checkpoint.hpp"
#include "ichseg/nn/container.hpp"
#include "ichseg/nn/conv2d.hpp"
#include "ichseg/nn/conv_transpose2d.hpp"
#include "ichseg/nn/linear.hpp"
#include "ichseg/nn/module.hpp"
#include "ichseg/nn/unet.hpp"

#include "ichseg/optim/adam.hpp"

#include "ichseg/io/safetensors.hpp"
