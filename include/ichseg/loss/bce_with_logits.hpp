/// @file bce_with_logits.hpp
/// @brief Binary cross-entropy on logits with per-label positive weights (torch.nn.BCEWithLogitsLoss,
/// pos_weight, mean reduction). Per element, stably:
///   l = (1 - t) x + (1 + (w - 1) t) (log(1 + exp(-|x|)) + max(-x, 0)),   dl/dx = sigmoid(x)(1 + (w - 1) t) - w t
/// L = mean over all B * C elements. pos_weight (C) may be undefined (all ones).
///   bce_with_logits_loss_value_and_grad(x, t, pos_weight) -> {loss, {dL/dx}} (the fused entry point, either
///   device); bce_with_logits_loss(Var): the tape node.
///   Kernels: cpu/bce_with_logits.hpp, cuda/bce_with_logits.hpp (kernels/bce_with_logits.cu).
#pragma once

#include "ichseg/cpu/bce_with_logits.hpp"
#include "ichseg/loss/common.hpp"
#include "ichseg/params/bce_with_logits.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/bce_with_logits.hpp"
#endif

namespace ichseg {

/// Validates the shapes; the geometry both backends take.
template <class T>
BceWithLogitsGeometry bce_with_logits_geometry(const Tensor<T>& x, const Tensor<T>& t, const Tensor<T>& pos_weight) {
    const char* op = "bce_with_logits_loss";
    detail::check_rank(op, "logits", x, 2);
    detail::check_same_shape(op, "logits", x, "targets", t);
    const int64_t B = x.size(0), C = x.size(1);
    if (pos_weight.defined())
        ICHSEG_CHECK(pos_weight.dim() == 1 && pos_weight.size(0) == C, op, ": pos_weight must be (", C, "), got ",
                     describe(pos_weight));
    return {B, C};
}

template <class T>
LossAndGrad<T> bce_with_logits_loss_value_and_grad(const Tensor<T>& x, const Tensor<T>& t,
                                                   const Tensor<T>& pos_weight = {}) {
    detail::static_check_float<T>();
    const char* op = "bce_with_logits_loss";
    const BceWithLogitsGeometry g = bce_with_logits_geometry(x, t, pos_weight);
    const Device dev = detail::op_device(op, {&x, &t, &pos_weight});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        auto [v, grad] = cuda::bce_with_logits_loss_value_and_grad(g, x, t, pos_weight);
        return {v, {grad}};
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x), tc = detail::cpu_input(op, t);
    const Tensor<T> pw = detail::cpu_input(op, pos_weight);
    Tensor<T> grad = Tensor<T>::empty(xc.shape());
    const double v = cpu::bce_with_logits_loss_value_and_grad(g, xc.data(), tc.data(),
                                                              pw.defined() ? pw.data() : nullptr, grad.data());
    return {v, {grad}};
}

template <class T>
Var<T> bce_with_logits_loss(const Var<T>& logits, const Tensor<T>& targets, const Tensor<T>& pos_weight = {}) {
    return detail::record_loss<T>("bce_with_logits_loss",
                                  bce_with_logits_loss_value_and_grad(logits.value(), targets, pos_weight), {&logits});
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template LossAndGrad<float> bce_with_logits_loss_value_and_grad<float>(const Tensor<float>&,
                                                                                              const Tensor<float>&,
                                                                                              const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Var<float> bce_with_logits_loss<float>(const Var<float>&, const Tensor<float>&,
                                                                       const Tensor<float>&);
}  // namespace ichseg
#endif
