/// @file dice.hpp
/// @brief Soft Dice loss (V-Net form, squared denominators) and its mixed / multi-label variants (SPEC §4).
///
/// Per sample b (all non-batch dimensions flattened):
///   I_b = sum p t,  S_b = sum p^2 + sum t^2 + eps,  D_b = 1 - (2 I_b + eps) / S_b
///   loss = (1/B) sum_b w_b D_b,   w_b = alpha if sum t_b == 0 else 1   (alpha = 1: plain soft Dice)
///   dloss/dp = (w_b / B) * (2 p (2 I_b + eps) / S_b^2 - 2 t / S_b)
/// `pred` holds probabilities (the sigmoid output). Sums are accumulated in double.
///   dice_loss_value_and_grad(pred, target, p) -> {loss, {dL/dpred}} (the fused entry point, either device);
///   dice_loss(Var): the tape node.  Kernels: cpu/dice.hpp, cuda/dice.hpp (kernels/dice.cu).
#pragma once

#include "ichseg/cpu/dice.hpp"
#include "ichseg/loss/common.hpp"
#include "ichseg/ops/sigmoid.hpp"
#include "ichseg/params/dice.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/dice.hpp"
#endif

namespace ichseg {

/// Validates the shapes; the geometry both backends take.
template <class T>
DiceGeometry dice_geometry(const Tensor<T>& pred, const Tensor<T>& target) {
    const char* op = "dice_loss";
    detail::check_same_shape(op, "prediction", pred, "target", target);
    ICHSEG_CHECK(pred.dim() >= 1 && pred.size(0) > 0, op, ": empty batch ", to_string(pred.shape()));
    return {pred.size(0), pred.numel() / pred.size(0)};
}

template <class T>
LossAndGrad<T> dice_loss_value_and_grad(const Tensor<T>& pred, const Tensor<T>& target, const DiceParams& p = {}) {
    detail::static_check_float<T>();
    const char* op = "dice_loss";
    const DiceGeometry g = dice_geometry(pred, target);
    const Device dev = detail::op_device(op, {&pred, &target});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        auto [v, grad] = cuda::dice_loss_value_and_grad(g, p, pred, target);
        return {v, {grad}};
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> pc = detail::cpu_input(op, pred), tc = detail::cpu_input(op, target);
    Tensor<T> grad = Tensor<T>::empty(pc.shape());
    const double v = cpu::dice_loss_value_and_grad(g, p, pc.data(), tc.data(), grad.data());
    return {v, {grad}};
}

/// Soft Dice (alpha = 1) or mixed weighted Dice (alpha < 1) of probabilities `pred` against `target`.
template <class T>
Var<T> dice_loss(const Var<T>& pred, const Tensor<T>& target, const DiceParams& p = {}) {
    return detail::record_loss<T>("dice_loss", dice_loss_value_and_grad(pred.value(), target, p), {&pred});
}

/// Multi-label Dice: soft Dice over each sample's vector of sigmoid(logits), batch mean.
template <class T>
Var<T> multilabel_dice_loss(const Var<T>& logits, const Tensor<T>& targets, double eps = 1.0) {
    ICHSEG_CHECK(logits.dim() == 2, "multilabel_dice_loss: logits must be (B, labels), got ",
                 to_string(logits.shape()));
    return dice_loss(sigmoid(logits), targets, DiceParams{eps, 1.0});
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template LossAndGrad<float> dice_loss_value_and_grad<float>(const Tensor<float>&,
                                                                                   const Tensor<float>&,
                                                                                   const DiceParams&);
ICHSEG_EXTERN_TEMPLATE template Var<float> dice_loss<float>(const Var<float>&, const Tensor<float>&, const DiceParams&);
ICHSEG_EXTERN_TEMPLATE template Var<float> multilabel_dice_loss<float>(const Var<float>&, const Tensor<float>&, double);
}  // namespace ichseg
#endif
