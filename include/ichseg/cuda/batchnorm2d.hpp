/// @file batchnorm2d.hpp (cuda)
/// @brief CUDA batch normalisation (training / inference forward, backward, optional fused ReLU): launchers
/// (kernels/batchnorm2d.cu) and the differentiable op that ops/batchnorm2d.hpp dispatches to for CUDA tensors.
/// Same semantics as the CPU op: biased batch variance for normalisation, unbiased for the running variance,
/// running statistics updated in place, the ReLU mask read from the saved output.
#pragma once

#include "ichseg/autograd/variable.hpp"
#include "ichseg/cuda/conv2d.hpp"

namespace ichseg::cuda {

namespace launch {
/// gamma / beta may be null (1 / 0); running_mean / running_var may be null (not tracked).
void batchnorm2d_fwd_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                           double eps, double momentum, float* running_mean, float* running_var, float* y,
                           float* save_mean, float* save_invstd, bool relu, NormBackend backend);
/// Also writes save_mean = running_mean and save_invstd = 1/sqrt(running_var + eps) for the backward pass.
void batchnorm2d_fwd_infer(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                           double eps, const float* running_mean, const float* running_var, float* y,
                           float* save_mean, float* save_invstd, bool relu, NormBackend backend);
/// y (the forward output) is read only when relu. dx, dgamma, dbeta overwritten; dx may be null.
void batchnorm2d_bwd(int64_t N, int64_t C, int64_t HW, const float* dy, const float* x, const float* y,
                     const float* gamma, const float* mean, const float* invstd, double eps, bool training, bool relu,
                     float* dx, float* dgamma, float* dbeta, NormBackend backend);
}  // namespace launch

/// The CUDA twin of ichseg::batchnorm2d (ops/batchnorm2d.hpp), called after its argument checks.
template <class T, class P>
Var<T> batchnorm2d(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta, Tensor<T> running_mean,
                   Tensor<T> running_var, bool training, const P& p) {
    detail::require_float<T>("batchnorm2d");
    const char* op = training ? "batchnorm2d_fwd_train" : "batchnorm2d_fwd_infer";
    const Device dev = x.device();
    Tensor<T> xc = detail::device_input(op, x.value(), dev);
    const int64_t N = xc.size(0), C = xc.size(1), HW = xc.size(2) * xc.size(3);
    if (running_mean.defined() || !training) {
        ICHSEG_CHECK(running_mean.defined() && running_var.defined(), op, ": running statistics are required");
        ICHSEG_CHECK(running_mean.numel() == C && running_var.numel() == C && running_mean.is_contiguous() &&
                         running_var.is_contiguous(),
                     op, ": running statistics must be contiguous (", C, "), got ", describe(running_mean), " and ",
                     describe(running_var));
        detail::device_input(op, running_mean, dev);
        detail::device_input(op, running_var, dev);
    }
    ICHSEG_CHECK(training || N > 0, op, ": empty batch");
    ICHSEG_CHECK(!training || N * HW > 1, op, ": training needs more than one value per channel, got input ",
                 to_string(xc.shape()));
    detail::check_int32(op, xc.numel());
    Tensor<T> gc = gamma.defined() ? detail::device_input(op, gamma.value(), dev) : Tensor<T>();
    Tensor<T> bc = beta.defined() ? detail::device_input(op, beta.value(), dev) : Tensor<T>();
    Tensor<T> y = Tensor<T>::empty(xc.shape(), dev);
    Tensor<T> mean = Tensor<T>::empty({C}, dev), invstd = Tensor<T>::empty({C}, dev);
    const NormBackend nb = norm_backend();
    if constexpr (std::is_same_v<T, float>) {
        const float* gp = gc.defined() ? gc.data() : nullptr;
        const float* bp = bc.defined() ? bc.data() : nullptr;
        if (training)
            launch::batchnorm2d_fwd_train(N, C, HW, xc.data(), gp, bp, p.eps, p.momentum,
                                          running_mean.defined() ? running_mean.data() : nullptr,
                                          running_var.defined() ? running_var.data() : nullptr, y.data(), mean.data(),
                                          invstd.data(), p.relu, nb);
        else
            launch::batchnorm2d_fwd_infer(N, C, HW, xc.data(), gp, bp, p.eps, running_mean.data(), running_var.data(),
                                          y.data(), mean.data(), invstd.data(), p.relu, nb);
    }
    Tensor<T> ys = p.relu ? y : Tensor<T>();
    const double eps = p.eps;
    const bool relu = p.relu;
    return record<T>("batchnorm2d", y, {&x, &gamma, &beta},
                     [xc, ys, gc, mean, invstd, N, C, HW, training, relu, eps, nb](const Tensor<T>& gy_in) {
                         Tensor<T> gy = detail::device_input("batchnorm2d_bwd", gy_in, xc.device());
                         Tensor<T> dx = Tensor<T>::empty(xc.shape(), xc.device());
                         Tensor<T> dgamma = Tensor<T>::empty({C}, xc.device());
                         Tensor<T> dbeta = Tensor<T>::empty({C}, xc.device());
                         if constexpr (std::is_same_v<T, float>)
                             launch::batchnorm2d_bwd(N, C, HW, gy.data(), xc.data(), ys.defined() ? ys.data() : nullptr,
                                                     gc.defined() ? gc.data() : nullptr, mean.data(), invstd.data(), eps,
                                                     training, relu, dx.data(), dgamma.data(), dbeta.data(), nb);
                         return std::vector<Tensor<T>>{dx, dgamma, dbeta};
                     });
}

}  // namespace ichseg::cuda
