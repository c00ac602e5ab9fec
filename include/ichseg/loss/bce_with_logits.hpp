/// @file bce_with_logits.hpp
/// @brief Binary cross-entropy on logits with per-label positive weights (torch.nn.BCEWithLogitsLoss,
/// pos_weight, mean reduction). Per element, stably:
///   l = (1 - t) x + (1 + (w - 1) t) (log(1 + exp(-|x|)) + max(-x, 0)),   dl/dx = sigmoid(x)(1 + (w - 1) t) - w t
/// L = mean over all B * C elements. pos_weight (C) may be undefined (all ones).
#pragma once

#include <cmath>

#include "ichseg/loss/common.hpp"

namespace ichseg {

template <class T>
LossAndGrad<T> bce_with_logits_loss_value_and_grad(const Tensor<T>& x_in, const Tensor<T>& t_in,
                                                   const Tensor<T>& pos_weight) {
    const char* op = "bce_with_logits_loss";
    detail::check_rank(op, "logits", x_in, 2);
    detail::check_same_shape(op, "logits", x_in, "targets", t_in);
    const int64_t B = x_in.size(0), C = x_in.size(1);
    if (pos_weight.defined())
        ICHSEG_CHECK(pos_weight.dim() == 1 && pos_weight.size(0) == C, op, ": pos_weight must be (", C, "), got ",
                     describe(pos_weight));
#if ICHSEG_WITH_CUDA
    if (x_in.device().is_cuda()) {
        auto r = cuda::bce_with_logits_loss_value_and_grad(x_in, t_in, pos_weight);
        return {r.first, std::move(r.second)};
    }
#endif
    Tensor<T> x = detail::cpu_input(op, x_in), t = detail::cpu_input(op, t_in);
    Tensor<T> pw = pos_weight.defined() ? detail::cpu_input(op, pos_weight) : Tensor<T>();
    Tensor<T> g = Tensor<T>::empty(x.shape());
    const double n = static_cast<double>(B * C);
    double loss = 0;
    for (int64_t i = 0; i < B * C; ++i) {
        const double xv = x.data()[i], tv = t.data()[i], w = pw.defined() ? pw.data()[i % C] : 1.0;
        const double lw = 1 + (w - 1) * tv;
        loss += (1 - tv) * xv + lw * (std::log1p(std::exp(-std::abs(xv))) + std::max(-xv, 0.0));
        const double sig = 1 / (1 + std::exp(-xv));
        g.data()[i] = static_cast<T>((sig * lw - w * tv) / n);
    }
    return {loss / n, {g}};
}

template <class T>
Var<T> bce_with_logits_loss(const Var<T>& logits, const Tensor<T>& targets, const Tensor<T>& pos_weight = {}) {
    detail::static_check_float<T>();
    return detail::record_loss<T>("bce_with_logits_loss",
                                  bce_with_logits_loss_value_and_grad(logits.value(), targets, pos_weight), {&logits});
}

}  // namespace ichseg
