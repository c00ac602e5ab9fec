// ichseg::float, part 1 of 3: the float instantiations of the core and CPU-kernel layers (Tensor<float>, the GEMM,
// the convolution, batch-norm, pooling and linear kernels, the Winograd transforms). The explicit instantiation
// definitions are the ICHSEG_EXTERN_TEMPLATES blocks at the end of the headers (config.hpp explains the scheme):
// with ICHSEG_EXTERN_TEMPLATE empty, each block included here defines what a consumer's copy declares extern.
#undef ICHSEG_EXTERN_TEMPLATE
#define ICHSEG_EXTERN_TEMPLATE

#include "ichseg/config.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/cpu/batchnorm2d.hpp"
#include "ichseg/cpu/conv2d.hpp"
#include "ichseg/cpu/conv2d_winograd.hpp"
#include "ichseg/cpu/conv_transpose2d.hpp"
#include "ichseg/cpu/gemm.hpp"
#include "ichseg/cpu/linear.hpp"
#include "ichseg/cpu/max_pool2d.hpp"

#if !ICHSEG_EXTERN_TEMPLATES
#error "src/float/ is compiled with ICHSEG_EXTERN_TEMPLATES=1 (the CMake target ichseg_float sets it)"
#endif
