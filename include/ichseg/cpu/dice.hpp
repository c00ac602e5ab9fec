/// @file dice.hpp (cpu)
/// @brief CPU kernel of the fused soft / mixed Dice loss (contract and formulas: loss/dice.hpp): one pass per
/// sample sums p t, p^2, t^2 and t in double, a second writes dL/dp = a_b p + c_b t. Samples run in parallel;
/// their losses are added in sample order, so the result does not depend on the thread count.
#pragma once

#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/params/dice.hpp"

namespace ichseg::cpu {

/// pred / target (B x M, contiguous); writes grad (B x M); returns the loss.
template <class T>
double dice_loss_value_and_grad(const DiceGeometry& g, const DiceParams& p, const T* pred, const T* target, T* grad) {
    const int64_t B = g.B, M = g.M;
    const double eps = p.eps, alpha = p.alpha;
    std::vector<double> loss_b(static_cast<size_t>(B));
    parallel_for(B, [&](int64_t b) {
        const T* pp = pred + b * M;
        const T* tp = target + b * M;
        double I = 0, P2 = 0, T2 = 0, Ts = 0;
        for (int64_t i = 0; i < M; ++i) {
            I += static_cast<double>(pp[i]) * tp[i];
            P2 += static_cast<double>(pp[i]) * pp[i];
            T2 += static_cast<double>(tp[i]) * tp[i];
            Ts += tp[i];
        }
        const double S = P2 + T2 + eps, num = 2 * I + eps;
        const double w = (Ts == 0 ? alpha : 1.0) / static_cast<double>(B);
        loss_b[static_cast<size_t>(b)] = w * (1.0 - num / S);
        // dL/dp = (w_b / B) (2 p (2 I + eps) / S^2 - 2 t / S)
        const T a = static_cast<T>(w * 2 * num / (S * S)), c = static_cast<T>(-w * 2 / S);
        T* gp = grad + b * M;
        for (int64_t i = 0; i < M; ++i) gp[i] = a * pp[i] + c * tp[i];
    }, 4 * B * M);
    double total = 0;
    for (double l : loss_b) total += l;
    return total;
}

}  // namespace ichseg::cpu
