/// @file dice.hpp
/// @brief Soft Dice loss (V-Net form, squared denominators) and its mixed / multi-label variants (SPEC §4).
///
/// Per sample b (all non-batch dimensions flattened):
///   I_b = sum p t,  S_b = sum p^2 + sum t^2 + eps,  D_b = 1 - (2 I_b + eps) / S_b
///   loss = (1/B) sum_b w_b D_b,   w_b = alpha if sum t_b == 0 else 1   (alpha = 1: plain soft Dice)
///   dloss/dp = (w_b / B) * (2 p (2 I_b + eps) / S_b^2 - 2 t / S_b)
/// `pred` holds probabilities (the sigmoid output). Sums are accumulated in double.
#pragma once

#include "ichseg/loss/common.hpp"
#include "ichseg/ops/sigmoid.hpp"

namespace ichseg {

struct DiceParams {
    double eps = 1.0;    ///< smoothing added to numerator and denominator
    double alpha = 1.0;  ///< weight of samples whose target is empty (mixed Dice: 0.2)
};

template <class T>
LossAndGrad<T> dice_loss_value_and_grad(const Tensor<T>& pred_in, const Tensor<T>& target_in, const DiceParams& p) {
    const char* op = "dice_loss";
    detail::check_same_shape(op, "prediction", pred_in, "target", target_in);
    ICHSEG_CHECK(pred_in.dim() >= 1 && pred_in.size(0) > 0, op, ": empty batch ", to_string(pred_in.shape()));
#if ICHSEG_WITH_CUDA
    if (pred_in.device().is_cuda()) {
        auto r = cuda::dice_loss_value_and_grad(pred_in, target_in, p.eps, p.alpha);
        return {r.first, std::move(r.second)};
    }
#endif
    Tensor<T> pred = detail::cpu_input(op, pred_in), tgt = detail::cpu_input(op, target_in);
    const int64_t B = pred.size(0), M = pred.numel() / B;
    Tensor<T> grad = Tensor<T>::empty(pred.shape());
    std::vector<double> loss_b(static_cast<size_t>(B));
    parallel_for(B, [&](int64_t b) {
        const T* pp = pred.data() + b * M;
        const T* tp = tgt.data() + b * M;
        double I = 0, P2 = 0, T2 = 0, Ts = 0;
        for (int64_t i = 0; i < M; ++i) {
            I += static_cast<double>(pp[i]) * tp[i];
            P2 += static_cast<double>(pp[i]) * pp[i];
            T2 += static_cast<double>(tp[i]) * tp[i];
            Ts += tp[i];
        }
        const double S = P2 + T2 + p.eps, num = 2 * I + p.eps;
        const double w = (Ts == 0 ? p.alpha : 1.0) / static_cast<double>(B);
        loss_b[static_cast<size_t>(b)] = w * (1.0 - num / S);
        const T a = static_cast<T>(w * 2 * num / (S * S)), c = static_cast<T>(-w * 2 / S);
        T* gp = grad.data() + b * M;
        for (int64_t i = 0; i < M; ++i) gp[i] = a * pp[i] + c * tp[i];
    }, 4 * pred.numel());
    double total = 0;
    for (double l : loss_b) total += l;
    return {total, {grad}};
}

/// Soft Dice (alpha = 1) or mixed weighted Dice (alpha < 1) of probabilities `pred` against `target`.
template <class T>
Var<T> dice_loss(const Var<T>& pred, const Tensor<T>& target, const DiceParams& p = {}) {
    detail::static_check_float<T>();
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
