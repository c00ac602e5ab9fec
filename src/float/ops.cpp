// ichseg::float, part 2 of 3: the float instantiations of the autograd and ops / loss layers (Var<float> and the
// tape, every op's tensor-level entry points and differentiable wrapper, every fused loss). The layers below are
// included first with their blocks left `extern` (kernels.cpp defines them); then ICHSEG_EXTERN_TEMPLATE is set
// empty, so the blocks of the headers included after it are this file's explicit instantiation definitions.
#include "ichseg/config.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/cpu/batchnorm2d.hpp"
#include "ichseg/cpu/conv2d.hpp"
#include "ichseg/cpu/conv2d_winograd.hpp"
#include "ichseg/cpu/conv_transpose2d.hpp"
#include "ichseg/cpu/gemm.hpp"
#include "ichseg/cpu/linear.hpp"
#include "ichseg/cpu/max_pool2d.hpp"

#undef ICHSEG_EXTERN_TEMPLATE
#define ICHSEG_EXTERN_TEMPLATE

#include "ichseg/autograd/variable.hpp"
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

#if !ICHSEG_EXTERN_TEMPLATES
#error "src/float/ is compiled with ICHSEG_EXTERN_TEMPLATES=1 (the CMake target ichseg_float sets it)"
#endif
