/// @file local_contrastive.hpp (cpu)
/// @brief CPU kernel of the fused local contrastive loss (contract: loss/local_contrastive.hpp): per image (in
/// parallel), gather the 2R region vectors of both views, run NT-Xent on them (weight 1/B), scatter the gradient
/// back into the cells. Image losses are added in image order.
#pragma once

#include <algorithm>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/cpu/nt_xent.hpp"
#include "ichseg/params/local_contrastive.hpp"

namespace ichseg::cpu {

/// f1, f2 (B, C, H, W contiguous), cells (B, R) validated indices into the (H/K) x (W/K) grid; writes g1, g2
/// (zero outside the cells); returns the loss.
template <class T>
double local_contrastive_loss_value_and_grad(const LocalContrastiveGeometry& g, double tau, const T* f1, const T* f2,
                                             const int64_t* cells, T* g1, T* g2) {
    const int64_t B = g.B, C = g.C, H = g.H, W = g.W, K = g.K, R = g.R, gw = g.grid_w(), D = g.D();
    std::fill(g1, g1 + B * C * H * W, T(0));
    std::fill(g2, g2 + B * C * H * W, T(0));
    std::vector<double> loss_b(static_cast<size_t>(B));
    parallel_for(B, [&](int64_t b) {
        std::vector<T> v(static_cast<size_t>(2 * R * D)), gv(static_cast<size_t>(2 * R * D));
        auto walk = [&](auto&& fn) {  // fn(row, element of row, flat offset into the (C,H,W) map, view)
            for (int view = 0; view < 2; ++view)
                for (int64_t r = 0; r < R; ++r) {
                    const int64_t cell = cells[b * R + r], cy = cell / gw, cx = cell % gw;
                    int64_t e = 0;
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t ky = 0; ky < K; ++ky)
                            for (int64_t kx = 0; kx < K; ++kx, ++e)
                                fn(view * R + r, e, (c * H + cy * K + ky) * W + cx * K + kx, view);
                }
        };
        const T* m1 = f1 + b * C * H * W;
        const T* m2 = f2 + b * C * H * W;
        walk([&](int64_t row, int64_t e, int64_t off, int view) { v[row * D + e] = (view ? m2 : m1)[off]; });
        loss_b[b] = nt_xent_rows(v.data(), 2 * R, D, tau, 1.0 / static_cast<double>(B), gv.data());
        T* d1 = g1 + b * C * H * W;
        T* d2 = g2 + b * C * H * W;
        walk([&](int64_t row, int64_t e, int64_t off, int view) { (view ? d2 : d1)[off] += gv[row * D + e]; });
    });
    double total = 0;
    for (double l : loss_b) total += l;
    return total;
}

}  // namespace ichseg::cpu
