// ichseg::float, part 3 of 3: the float instantiations of the nn and optim layers (Module<float>, every layer
// module, the U-Net family, checkpoints, Adam). The layers below are included first with their blocks left
// `extern` (kernels.cpp and ops.cpp define them); the blocks of the headers included after ICHSEG_EXTERN_TEMPLATE
// is set empty are this file's explicit instantiation definitions.
#include "ichseg/config.hpp"
#include "ichseg/autograd/variable.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/cpu/batchnorm2d.hpp"
#include "ichseg/cpu/conv2d.hpp"
#include "ichseg/cpu/conv2d_winograd.hpp"
#include "ichseg/cpu/conv_transpose2d.hpp"
#include "ichseg/cpu/gemm.hpp"
#include "ichseg/cpu/linear.hpp"
#include "ichseg/cpu/max_pool2d.hpp"
#include "ichseg/loss/bce_with_logits.hpp"
#include "ichseg/loss/common.hpp"
#include "ichseg/loss/cross_entropy.hpp"
#include "ichseg/loss/dice.hpp"
#include "ichseg/loss/local_contrastive.hpp"
#include "ichseg/loss/mse.hpp"
#include "ichseg/loss/nt_xent.hpp"
#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/ops/batchnorm2d.hpp"
#include "ichseg/ops/concat.hpp"
#include "ichseg/ops/conv2d.hpp"
#include "ichseg/ops/conv_transpose2d.hpp"
#include "ichseg/ops/dropout.hpp"
#include "ichseg/ops/global_avg_pool.hpp"
#include "ichseg/ops/linear.hpp"
#include "ichseg/ops/max_pool2d.hpp"
#include "ichseg/ops/pointwise.hpp"
#include "ichseg/ops/relu.hpp"
#include "ichseg/ops/reshape.hpp"
#include "ichseg/ops/sigmoid.hpp"
#include "ichseg/ops/softmax.hpp"

#undef ICHSEG_EXTERN_TEMPLATE
#define ICHSEG_EXTERN_TEMPLATE

#include "ichseg/nn/activation.hpp"
#include "ichseg/nn/batchnorm2d.hpp"
#include "ichseg/nn/checkpoint.hpp"
#include "ichseg/nn/container.hpp"
#include "ichseg/nn/conv2d.hpp"
#include "ichseg/nn/conv_transpose2d.hpp"
#include "ichseg/nn/init.hpp"
#include "ichseg/nn/linear.hpp"
#include "ichseg/nn/module.hpp"
#include "ichseg/nn/unet.hpp"
#include "ichseg/optim/adam.hpp"

#if !ICHSEG_EXTERN_TEMPLATES
#error "src/float/ is compiled with ICHSEG_EXTERN_TEMPLATES=1 (the CMake target ichseg_float sets it)"
#endif
