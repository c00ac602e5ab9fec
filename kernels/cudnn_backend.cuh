/// @file cudnn_backend.cuh
/// @brief cuDNN as the alternative backend of conv2d and batchnorm2d (test oracle and benchmark baseline).
/// libcudnn.so.9 is opened at run time (dlopen), so nothing links against it and binaries run without it; a
/// call when it cannot be loaded throws with the loader's reason. Definitions: kernels/cudnn_backend.cu.
#pragma once

#include "ichseg/cuda/conv2d.hpp"

namespace ichseg::cuda::cudnn {

/// Throws (with the reason) when libcudnn cannot be loaded.
void require();

void conv2d_fprop(const Conv2dGeometry& g, const float* x, const float* w, const float* b, float* y, Precision prec);
void conv2d_dgrad(const Conv2dGeometry& g, const float* dy, const float* w, float* dx, Precision prec);
void conv2d_wgrad(const Conv2dGeometry& g, const float* dy, const float* x, float* dw, float* db, Precision prec);

/// Spatial batch norm through cudnnBatchNormalization*; the ReLU and its mask are applied by ichseg kernels.
/// save_mean / save_invstd receive the batch statistics (training) in cuDNN's convention (= ichseg's).
void batchnorm_fwd_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                         double eps, double momentum, float* running_mean, float* running_var, float* y,
                         float* save_mean, float* save_invstd);
void batchnorm_fwd_infer(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                         double eps, const float* running_mean, const float* running_var, float* y);
void batchnorm_bwd(int64_t N, int64_t C, int64_t HW, const float* dy, const float* x, const float* gamma,
                   double eps, const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                   float* dbeta);

}  // namespace ichseg::cuda::cudnn
