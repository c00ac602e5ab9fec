/// @file cross_entropy.hpp
/// @brief Softmax cross-entropy over class logits (torch.nn.CrossEntropyLoss, mean reduction).
/// logits (B, K), labels (B) in [0, K): L = (1/B) sum_b (logsumexp(x_b) - x_b[y_b]),
/// dL/dx = (softmax(x) - onehot(y)) / B.
///   cross_entropy_loss_value_and_grad(x, labels) -> {loss, {dL/dx}} (the fused entry point, either device; the
///   labels may be on the CPU or on the logits' device); cross_entropy_loss(Var): the tape node.
///   Kernels: cpu/cross_entropy.hpp, cuda/cross_entropy.hpp (kernels/cross_entropy.cu).
#pragma once

#include "ichseg/cpu/cross_entropy.hpp"
#include "ichseg/loss/common.hpp"
#include "ichseg/params/cross_entropy.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/cross_entropy.hpp"
#endif

namespace ichseg {

/// Validates the shapes and every label (read on the host); the geometry both backends take.
template <class T>
CrossEntropyGeometry cross_entropy_geometry(const Tensor<T>& x, const Tensor<int64_t>& labels_host) {
    const char* op = "cross_entropy_loss";
    detail::check_rank(op, "logits", x, 2);
    detail::check_rank(op, "labels", labels_host, 1);
    const int64_t B = x.size(0), K = x.size(1);
    ICHSEG_CHECK(labels_host.size(0) == B && B > 0, op, ": labels ", to_string(labels_host.shape()), " for logits ",
                 to_string(x.shape()));
    for (int64_t b = 0; b < B; ++b) {
        const int64_t y = labels_host.data()[b];
        ICHSEG_CHECK(y >= 0 && y < K, op, ": label ", y, " of sample ", b, " outside [0, ", K, ")");
    }
    return {B, K};
}

template <class T>
LossAndGrad<T> cross_entropy_loss_value_and_grad(const Tensor<T>& x, const Tensor<int64_t>& labels) {
    detail::static_check_float<T>();
    const char* op = "cross_entropy_loss";
    const Tensor<int64_t> lh = detail::host_indices(op, "labels", labels);
    const CrossEntropyGeometry g = cross_entropy_geometry(x, lh);
    const Device dev = detail::op_device(op, {&x});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        auto [v, grad] = cuda::cross_entropy_loss_value_and_grad(g, x, detail::indices_on(labels, lh, dev));
        return {v, {grad}};
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x);
    Tensor<T> grad = Tensor<T>::empty(xc.shape());
    const double v = cpu::cross_entropy_loss_value_and_grad(g, xc.data(), lh.data(), grad.data());
    return {v, {grad}};
}

template <class T>
Var<T> cross_entropy_loss(const Var<T>& logits, const Tensor<int64_t>& labels) {
    return detail::record_loss<T>("cross_entropy_loss", cross_entropy_loss_value_and_grad(logits.value(), labels),
                                  {&logits});
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template LossAndGrad<float> cross_entropy_loss_value_and_grad<float>(const Tensor<float>&,
                                                                                            const Tensor<int64_t>&);
ICHSEG_EXTERN_TEMPLATE template Var<float> cross_entropy_loss<float>(const Var<float>&, const Tensor<int64_t>&);
}  // namespace ichseg
#endif
