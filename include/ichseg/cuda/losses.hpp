/// @file losses.hpp (cuda)
/// @brief CUDA fused losses (value and gradient together, as the CPU losses): soft / mixed Dice, BCE with
/// logits, cross-entropy, MSE, NT-Xent and the local (region) contrastive loss. Each returns the scalar value
/// (reduced in double on the host from per-block / per-row partials, in a fixed order) and the gradient tensors
/// on the device. The loss headers in loss/ dispatch here for CUDA tensors after their argument checks.
/// Kernels: kernels/{dice,bce_with_logits,cross_entropy,mse,nt_xent}.cu.
#pragma once

#include <utility>
#include <vector>

#include "ichseg/cuda/common.hpp"

namespace ichseg::cuda {

namespace launch {
/// Per-sample soft Dice over B samples of M elements; writes grad, returns the loss (see loss/dice.hpp).
double dice_loss(int64_t B, int64_t M, const float* pred, const float* target, double eps, double alpha, float* grad);
/// Mean BCE with logits over B x C, pos_weight (C) may be null.
double bce_with_logits_loss(int64_t B, int64_t C, const float* x, const float* t, const float* pos_weight, float* grad);
/// Mean softmax cross-entropy of B rows of K logits; labels (B) on the device, already validated.
double cross_entropy_loss(int64_t B, int64_t K, const float* x, const int64_t* labels, float* grad);
double mse_loss(int64_t n, const float* y, const float* t, float* grad);
/// NT-Xent of G independent groups of `rows` vectors of length D (z: G x rows x D); group losses are scaled by
/// weight; returns the sum over groups (the CPU's nt_xent_rows summed over groups).
double nt_xent_groups(int64_t G, int64_t rows, int64_t D, const float* z, double tau, double weight, float* grad);
/// Local contrastive: gathers the (C, K, K) regions of the R cells of each image from both views, runs NT-Xent
/// per image (weight 1/B) and scatters the gradient back into g1, g2 (zeroed here). cells (B, R) on the device.
double local_contrastive_loss(int64_t B, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, const float* f1,
                              const float* f2, const int64_t* cells, double tau, float* g1, float* g2);
}  // namespace launch

template <class T>
using LossGrads = std::pair<double, std::vector<Tensor<T>>>;

template <class T>
LossGrads<T> dice_loss_value_and_grad(const Tensor<T>& pred_in, const Tensor<T>& target_in, double eps, double alpha) {
    detail::require_float<T>("dice_loss");
    const Device dev = pred_in.device();
    Tensor<T> pred = detail::device_input("dice_loss", pred_in, dev);
    Tensor<T> tgt = detail::device_input("dice_loss", target_in, dev);
    detail::check_int32("dice_loss", pred.numel());
    const int64_t B = pred.size(0), M = pred.numel() / B;
    Tensor<T> grad = Tensor<T>::empty(pred.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>) v = launch::dice_loss(B, M, pred.data(), tgt.data(), eps, alpha, grad.data());
    return {v, {grad}};
}

template <class T>
LossGrads<T> bce_with_logits_loss_value_and_grad(const Tensor<T>& x_in, const Tensor<T>& t_in, const Tensor<T>& pw) {
    detail::require_float<T>("bce_with_logits_loss");
    const Device dev = x_in.device();
    Tensor<T> x = detail::device_input("bce_with_logits_loss", x_in, dev);
    Tensor<T> t = detail::device_input("bce_with_logits_loss", t_in, dev);
    Tensor<T> w = pw.defined() ? pw.to(dev).contiguous() : Tensor<T>();
    Tensor<T> g = Tensor<T>::empty(x.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>)
        v = launch::bce_with_logits_loss(x.size(0), x.size(1), x.data(), t.data(), w.defined() ? w.data() : nullptr,
                                         g.data());
    return {v, {g}};
}

/// labels may be on the CPU or the device; they are validated on the host.
template <class T>
LossGrads<T> cross_entropy_loss_value_and_grad(const Tensor<T>& x_in, const Tensor<int64_t>& labels) {
    detail::require_float<T>("cross_entropy_loss");
    const Device dev = x_in.device();
    Tensor<T> x = detail::device_input("cross_entropy_loss", x_in, dev);
    const int64_t B = x.size(0), K = x.size(1);
    Tensor<int64_t> lh = labels.to(Device::cpu()).contiguous();
    for (int64_t b = 0; b < B; ++b)
        ICHSEG_CHECK(lh.data()[b] >= 0 && lh.data()[b] < K, "cross_entropy_loss: label ", lh.data()[b], " of sample ",
                     b, " outside [0, ", K, ")");
    Tensor<int64_t> ld = lh.to(dev);
    Tensor<T> g = Tensor<T>::empty(x.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>) v = launch::cross_entropy_loss(B, K, x.data(), ld.data(), g.data());
    return {v, {g}};
}

template <class T>
LossGrads<T> mse_loss_value_and_grad(const Tensor<T>& y_in, const Tensor<T>& t_in) {
    detail::require_float<T>("mse_loss");
    const Device dev = y_in.device();
    Tensor<T> y = detail::device_input("mse_loss", y_in, dev), t = detail::device_input("mse_loss", t_in, dev);
    Tensor<T> g = Tensor<T>::empty(y.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>) v = launch::mse_loss(y.numel(), y.data(), t.data(), g.data());
    return {v, {g}};
}

template <class T>
LossGrads<T> nt_xent_loss_value_and_grad(const Tensor<T>& z_in, double tau) {
    detail::require_float<T>("nt_xent_loss");
    Tensor<T> z = detail::device_input("nt_xent_loss", z_in, z_in.device());
    Tensor<T> g = Tensor<T>::empty(z.shape(), z.device());
    double v = 0;
    if constexpr (std::is_same_v<T, float>)
        v = launch::nt_xent_groups(1, z.size(0), z.size(1), z.data(), tau, 1.0, g.data());
    return {v, {g}};
}

/// cells on the CPU (validated by the caller) or the device.
template <class T>
LossGrads<T> local_contrastive_loss_value_and_grad(const Tensor<T>& f1_in, const Tensor<T>& f2_in,
                                                   const Tensor<int64_t>& cells, int64_t cell, double tau) {
    detail::require_float<T>("local_contrastive_loss");
    const Device dev = f1_in.device();
    Tensor<T> f1 = detail::device_input("local_contrastive_loss", f1_in, dev);
    Tensor<T> f2 = detail::device_input("local_contrastive_loss", f2_in, dev);
    Tensor<int64_t> cd = cells.to(dev).contiguous();
    Tensor<T> g1 = Tensor<T>::empty(f1.shape(), dev), g2 = Tensor<T>::empty(f2.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>)
        v = launch::local_contrastive_loss(f1.size(0), f1.size(1), f1.size(2), f1.size(3), cell, cd.size(1), f1.data(),
                                           f2.data(), cd.data(), tau, g1.data(), g2.data());
    return {v, {g1, g2}};
}

}  // namespace ichseg::cuda
