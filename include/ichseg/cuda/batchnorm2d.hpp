/// @file batchnorm2d.hpp (cuda)
/// @brief CUDA batch normalisation (training / inference forward, backward, optional fused ReLU): the launchers
/// of kernels/batchnorm2d.cu (ichseg's kernels or cuDNN, per norm_backend()) and the tensor-level entry points
/// that ops/batchnorm2d.hpp dispatches to after its checks. Same semantics as the CPU: biased batch variance for
/// normalisation, unbiased for the running variance, running statistics updated in place, the ReLU mask read
/// from the saved output.
#pragma once

#include <tuple>

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/batchnorm2d.hpp"

namespace ichseg::cuda {

namespace launch {
/// gamma / beta may be null (1 / 0); running_mean / running_var may be null (not tracked).
void batchnorm2d_fwd_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                           double eps, double momentum, float* running_mean, float* running_var, float* y,
                           float* save_mean, float* save_invstd, bool relu, NormBackend backend);
/// Also writes save_mean = running_mean and save_invstd = 1/sqrt(running_var + eps) for the backward pass.
void batchnorm2d_fwd_infer(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                           double eps, const float* running_mean, const float* running_var, float* y, float* save_mean,
                           float* save_invstd, bool relu, NormBackend backend);
/// y (the forward output) is read only when relu. dx, dgamma, dbeta overwritten; dx may be null.
void batchnorm2d_bwd(int64_t N, int64_t C, int64_t HW, const float* dy, const float* x, const float* y,
                     const float* gamma, const float* mean, const float* invstd, double eps, bool training, bool relu,
                     float* dx, float* dgamma, float* dbeta, NormBackend backend);
}  // namespace launch

/// float, and an input within 32-bit indexing.
template <class T>
Support supports(const BatchNorm2dGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.numel()}));
}

/// Training forward: {y, save_mean, save_invstd}; the running statistics (if defined) are updated in place.
template <class T>
std::tuple<Tensor<T>, Tensor<T>, Tensor<T>> batchnorm2d_fwd_train(const BatchNorm2dGeometry& g,
                                                                  const BatchNorm2dParams& p, const Tensor<T>& x_in,
                                                                  const Tensor<T>& gamma, const Tensor<T>& beta,
                                                                  Tensor<T> running_mean, Tensor<T> running_var) {
    const char* op = "batchnorm2d_fwd_train";
    detail::require_float<T>(op);
    const Device dev = x_in.device();
    const Tensor<T> x = detail::device_input(op, x_in, dev);
    Tensor<T> y = Tensor<T>::empty(x.shape(), dev), mean = Tensor<T>::empty({g.C}, dev),
              invstd = Tensor<T>::empty({g.C}, dev);
    if (running_mean.defined()) detail::device_input(op, running_mean, dev);
    if (running_var.defined()) detail::device_input(op, running_var, dev);
    if constexpr (std::is_same_v<T, float>) {
        float* rm = running_mean.defined() ? running_mean.data() : nullptr;
        float* rv = running_var.defined() ? running_var.data() : nullptr;
        launch::batchnorm2d_fwd_train(g.N, g.C, g.HW, x.data(), detail::optional_data(op, gamma, dev),
                                      detail::optional_data(op, beta, dev), p.eps, p.momentum, rm, rv, y.data(),
                                      mean.data(), invstd.data(), p.relu, norm_backend());
    }
    return {y, mean, invstd};
}

/// Inference forward with the running statistics: {y, mean, invstd} (the statistics the backward pass reads).
template <class T>
std::tuple<Tensor<T>, Tensor<T>, Tensor<T>> batchnorm2d_fwd_infer(const BatchNorm2dGeometry& g,
                                                                  const BatchNorm2dParams& p, const Tensor<T>& x_in,
                                                                  const Tensor<T>& gamma, const Tensor<T>& beta,
                                                                  const Tensor<T>& running_mean,
                                                                  const Tensor<T>& running_var) {
    const char* op = "batchnorm2d_fwd_infer";
    detail::require_float<T>(op);
    const Device dev = x_in.device();
    const Tensor<T> x = detail::device_input(op, x_in, dev);
    const Tensor<T> rm = detail::device_input(op, running_mean, dev), rv = detail::device_input(op, running_var, dev);
    Tensor<T> y = Tensor<T>::empty(x.shape(), dev), mean = Tensor<T>::empty({g.C}, dev),
              invstd = Tensor<T>::empty({g.C}, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::batchnorm2d_fwd_infer(g.N, g.C, g.HW, x.data(), detail::optional_data(op, gamma, dev),
                                      detail::optional_data(op, beta, dev), p.eps, rm.data(), rv.data(), y.data(),
                                      mean.data(), invstd.data(), p.relu, norm_backend());
    return {y, mean, invstd};
}

/// {dx, dgamma, dbeta}; y is read only when p.relu, gamma may be undefined (1).
template <class T>
std::tuple<Tensor<T>, Tensor<T>, Tensor<T>> batchnorm2d_bwd(const BatchNorm2dGeometry& g, const BatchNorm2dParams& p,
                                                            const Tensor<T>& dy_in, const Tensor<T>& x_in,
                                                            const Tensor<T>& y, const Tensor<T>& gamma,
                                                            const Tensor<T>& mean_in, const Tensor<T>& invstd_in,
                                                            bool training) {
    const char* op = "batchnorm2d_bwd";
    detail::require_float<T>(op);
    const Device dev = x_in.device();
    const Tensor<T> dy = detail::device_input(op, dy_in, dev), x = detail::device_input(op, x_in, dev);
    const Tensor<T> mean = detail::device_input(op, mean_in, dev), invstd = detail::device_input(op, invstd_in, dev);
    Tensor<T> dx = Tensor<T>::empty(x.shape(), dev), dgamma = Tensor<T>::empty({g.C}, dev),
              dbeta = Tensor<T>::empty({g.C}, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::batchnorm2d_bwd(g.N, g.C, g.HW, dy.data(), x.data(),
                                p.relu ? detail::optional_data(op, y, dev) : nullptr,
                                detail::optional_data(op, gamma, dev), mean.data(), invstd.data(), p.eps, training,
                                p.relu, dx.data(), dgamma.data(), dbeta.data(), norm_backend());
    return {dx, dgamma, dbeta};
}

}  // namespace ichseg::cuda
