/// @file bce_with_logits.hpp (cpu)
/// @brief CPU kernel of the fused binary cross-entropy on logits (contract and formulas: loss/bce_with_logits.hpp):
/// one sequential pass computes each element's stable loss term (summed in double) and its gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ichseg/params/bce_with_logits.hpp"

namespace ichseg::cpu {

/// x, t (B x C, contiguous), pos_weight (C) or null (all ones); writes grad (B x C); returns the mean loss.
template <class T>
double bce_with_logits_loss_value_and_grad(const BceWithLogitsGeometry& g, const T* x, const T* t, const T* pos_weight,
                                           T* grad) {
    const int64_t B = g.B, C = g.C;
    const double n = static_cast<double>(B * C);
    double loss = 0;
    for (int64_t i = 0; i < B * C; ++i) {
        const double xv = x[i], tv = t[i], w = pos_weight ? pos_weight[i % C] : 1.0;
        const double lw = 1 + (w - 1) * tv;
        loss += (1 - tv) * xv + lw * (std::log1p(std::exp(-std::abs(xv))) + std::max(-xv, 0.0));
        // dl/dx = sigmoid(x) (1 + (w - 1) t) - w t
        const double sig = 1 / (1 + std::exp(-xv));
        grad[i] = static_cast<T>((sig * lw - w * tv) / n);
    }
    return loss / n;
}

}  // namespace ichseg::cpu
