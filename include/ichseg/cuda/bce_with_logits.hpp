/// @file bce_with_logits.hpp (cuda)
/// @brief CUDA fused binary cross-entropy on logits (contract and formulas: loss/bce_with_logits.hpp): the
/// tensor-level launcher that loss/bce_with_logits.hpp dispatches to for CUDA tensors, its supports() and the
/// launch:: declaration (kernels/bce_with_logits.cu). Per-element math in double, as on the CPU.
#pragma once

#include <utility>

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/bce_with_logits.hpp"

namespace ichseg::cuda {

namespace launch {
/// x, t (B x C), pos_weight (C) or null; writes grad; returns the mean loss.
double bce_with_logits_loss_value_and_grad(const BceWithLogitsGeometry& g, const float* x, const float* t,
                                           const float* pos_weight, float* grad);
}  // namespace launch

/// float, and C within 32-bit range (the kernel finds an element's label as i % C in int; the element index
/// itself is 64-bit).
template <class T>
Support supports(const BceWithLogitsGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.C}));
}

/// {loss, dL/dlogits}; pos_weight may be undefined (all ones).
template <class T>
std::pair<double, Tensor<T>> bce_with_logits_loss_value_and_grad(const BceWithLogitsGeometry& g, const Tensor<T>& x_in,
                                                                 const Tensor<T>& t_in, const Tensor<T>& pos_weight) {
    const char* op = "bce_with_logits_loss";
    detail::require_float<T>(op);
    const Device dev = x_in.device();
    const Tensor<T> x = detail::device_input(op, x_in, dev), t = detail::device_input(op, t_in, dev);
    const T* pw = detail::optional_data(op, pos_weight, dev);
    Tensor<T> grad = Tensor<T>::empty(x.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>)
        v = launch::bce_with_logits_loss_value_and_grad(g, x.data(), t.data(), pw, grad.data());
    return {v, grad};
}

}  // namespace ichseg::cuda
