/// @file cross_entropy.hpp (cpu)
/// @brief CPU kernel of the fused softmax cross-entropy (contract and formulas: loss/cross_entropy.hpp): per row,
/// a max-shifted log-sum-exp in double, then the gradient (softmax - onehot) / B.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ichseg/params/cross_entropy.hpp"

namespace ichseg::cpu {

/// x (B x K, contiguous), labels (B) already validated to lie in [0, K); writes grad (B x K);
/// returns the mean loss.
template <class T>
double cross_entropy_loss_value_and_grad(const CrossEntropyGeometry& g, const T* x, const int64_t* labels, T* grad) {
    const int64_t B = g.B, K = g.K;
    double loss = 0;
    for (int64_t b = 0; b < B; ++b) {
        const int64_t y = labels[b];
        const T* xp = x + b * K;
        double m = xp[0];
        for (int64_t k = 1; k < K; ++k) m = std::max(m, static_cast<double>(xp[k]));
        double se = 0;
        for (int64_t k = 0; k < K; ++k) se += std::exp(xp[k] - m);
        const double lse = m + std::log(se);
        loss += lse - xp[y];
        // dL/dx = (softmax(x) - onehot(y)) / B
        for (int64_t k = 0; k < K; ++k)
            grad[b * K + k] = static_cast<T>((std::exp(xp[k] - lse) - (k == y ? 1.0 : 0.0)) / B);
    }
    return loss / B;
}

}  // namespace ichseg::cpu
