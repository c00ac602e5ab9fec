/// @file dice.hpp (cuda)
/// @brief CUDA fused soft / mixed Dice (contract and formulas: loss/dice.hpp): the tensor-level launcher that
/// loss/dice.hpp dispatches to for CUDA tensors, its supports() and the launch:: declaration
/// (kernels/dice.cu). The value is reduced in double on the host from per-sample partials, in sample order.
#pragma once

#include <utility>

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/dice.hpp"

namespace ichseg::cuda {

namespace launch {
/// pred / target (B x M); writes grad; returns the loss.
double dice_loss_value_and_grad(const DiceGeometry& g, const DiceParams& p, const float* pred, const float* target,
                                float* grad);
}  // namespace launch

/// float, and B and M within 32-bit range (one block row per sample; a sample's M values indexed with int,
/// the sample offset 64-bit).
template <class T>
Support supports(const DiceGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.B, g.M}));
}

/// {loss, dL/dpred} for pred and target of the same shape on one CUDA device.
template <class T>
std::pair<double, Tensor<T>> dice_loss_value_and_grad(const DiceGeometry& g, const DiceParams& p,
                                                      const Tensor<T>& pred_in, const Tensor<T>& target_in) {
    const char* op = "dice_loss";
    detail::require_float<T>(op);
    const Device dev = pred_in.device();
    const Tensor<T> pred = detail::device_input(op, pred_in, dev), tgt = detail::device_input(op, target_in, dev);
    Tensor<T> grad = Tensor<T>::empty(pred.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>)
        v = launch::dice_loss_value_and_grad(g, p, pred.data(), tgt.data(), grad.data());
    return {v, grad};
}

}  // namespace ichseg::cuda
