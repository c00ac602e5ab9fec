/// @file cross_entropy.hpp
/// @brief Softmax cross-entropy over class logits (torch.nn.CrossEntropyLoss, mean reduction).
/// logits (B, K), labels (B) in [0, K): L = (1/B) sum_b (logsumexp(x_b) - x_b[y_b]),
/// dL/dx = (softmax(x) - onehot(y)) / B.
#pragma once

#include <cmath>

#include "ichseg/loss/common.hpp"

namespace ichseg {

template <class T>
LossAndGrad<T> cross_entropy_loss_value_and_grad(const Tensor<T>& x_in, const Tensor<int64_t>& labels) {
    const char* op = "cross_entropy_loss";
    detail::check_rank(op, "logits", x_in, 2);
    detail::check_rank(op, "labels", labels, 1);
    const int64_t B = x_in.size(0), K = x_in.size(1);
    ICHSEG_CHECK(labels.size(0) == B && B > 0, op, ": labels ", to_string(labels.shape()), " for logits ",
                 to_string(x_in.shape()));
#if ICHSEG_WITH_CUDA
    if (x_in.device().is_cuda()) {
        auto r = cuda::cross_entropy_loss_value_and_grad(x_in, labels);
        return {r.first, std::move(r.second)};
    }
#endif
    Tensor<T> x = detail::cpu_input(op, x_in);
    Tensor<T> g = Tensor<T>::empty(x.shape());
    double loss = 0;
    for (int64_t b = 0; b < B; ++b) {
        const int64_t y = labels.data()[b];
        ICHSEG_CHECK(y >= 0 && y < K, op, ": label ", y, " of sample ", b, " outside [0, ", K, ")");
        const T* xp = x.data() + b * K;
        double m = xp[0];
        for (int64_t k = 1; k < K; ++k) m = std::max(m, static_cast<double>(xp[k]));
        double se = 0;
        for (int64_t k = 0; k < K; ++k) se += std::exp(xp[k] - m);
        const double lse = m + std::log(se);
        loss += lse - xp[y];
        for (int64_t k = 0; k < K; ++k)
            g.data()[b * K + k] = static_cast<T>((std::exp(xp[k] - lse) - (k == y ? 1.0 : 0.0)) / B);
    }
    return {loss / B, {g}};
}

template <class T>
Var<T> cross_entropy_loss(const Var<T>& logits, const Tensor<int64_t>& labels) {
    detail::static_check_float<T>();
    return detail::record_loss<T>("cross_entropy_loss", cross_entropy_loss_value_and_grad(logits.value(), labels),
                                  {&logits});
}

}  // namespace ichseg
