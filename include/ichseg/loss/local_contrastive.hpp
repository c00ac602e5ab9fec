/// @file local_contrastive.hpp
/// @brief Local (region-level) contrastive loss on dense feature maps (SPEC §4, after Chaitanya et al. 2020).
///
/// f1, f2 (B, C, H, W) are the projection-head outputs of two views that share one geometric transform, so a
/// cell index means the same anatomy in both. The maps are tiled into non-overlapping K x K cells
/// ((H/K) x (W/K) grid, row-major index); `cells` (B, R) picks R distinct cells per image (the same in both
/// views). A region vector is the flattened (C, K, K) block. Per image, the 2R vectors [view-1 regions,
/// view-2 regions] go through NT-Xent: the positive of a region is the same cell in the other view, the
/// 2R - 2 negatives are the other regions of the same image in both views. L = mean over the B images
/// (= mean over B * 2R anchors).
#pragma once

#include <algorithm>
#include <numeric>

#include "ichseg/core/rng.hpp"
#include "ichseg/loss/nt_xent.hpp"

namespace ichseg {

struct LocalContrastiveParams {
    int64_t cell = 3;    ///< K
    double tau = 0.1;    ///< temperature
};

/// R distinct cells per image out of grid_cells, uniformly (partial Fisher-Yates on the Philox stream).
inline Tensor<int64_t> sample_cells(int64_t batch, int64_t grid_cells, int64_t regions, Generator& gen) {
    ICHSEG_CHECK(regions >= 1 && regions <= grid_cells, "sample_cells: cannot pick ", regions, " distinct cells out of ",
                 grid_cells);
    Tensor<int64_t> out = Tensor<int64_t>::empty({batch, regions});
    const uint64_t stream = gen.next_stream();
    std::vector<int64_t> idx(static_cast<size_t>(grid_cells));
    for (int64_t b = 0; b < batch; ++b) {
        std::iota(idx.begin(), idx.end(), 0);
        for (int64_t r = 0; r < regions; ++r) {
            const uint64_t u = random_u32(gen.seed(), stream, static_cast<uint64_t>(b * regions + r));
            const int64_t j = r + static_cast<int64_t>(u % static_cast<uint64_t>(grid_cells - r));
            std::swap(idx[r], idx[j]);
            out.data()[b * regions + r] = idx[r];
        }
    }
    return out;
}

template <class T>
LossAndGrad<T> local_contrastive_loss_value_and_grad(const Tensor<T>& f1_in, const Tensor<T>& f2_in,
                                                     const Tensor<int64_t>& cells, const LocalContrastiveParams& p) {
    const char* op = "local_contrastive_loss";
    detail::check_rank(op, "view-1 features", f1_in, 4);
    detail::check_same_shape(op, "view-1 features", f1_in, "view-2 features", f2_in);
    detail::check_rank(op, "cells", cells, 2);
    const int64_t B = f1_in.size(0), C = f1_in.size(1), H = f1_in.size(2), W = f1_in.size(3), K = p.cell;
    ICHSEG_CHECK(K >= 1 && H >= K && W >= K, op, ": cell size ", K, " does not fit feature maps ",
                 to_string(f1_in.shape()));
    ICHSEG_CHECK(cells.size(0) == B && cells.size(1) >= 1, op, ": cells ", to_string(cells.shape()),
                 " must be (", B, ", R) for features ", to_string(f1_in.shape()));
    const int64_t gw = W / K, gh = H / K, R = cells.size(1), D = C * K * K;
    for (int64_t i = 0; i < cells.numel(); ++i)
        ICHSEG_CHECK(cells.data()[i] >= 0 && cells.data()[i] < gh * gw, op, ": cell index ", cells.data()[i],
                     " outside the ", gh, " x ", gw, " grid");
#if ICHSEG_WITH_CUDA
    if (f1_in.device().is_cuda()) {
        auto r = cuda::local_contrastive_loss_value_and_grad(f1_in, f2_in, cells, K, p.tau);
        return {r.first, std::move(r.second)};
    }
#endif
    Tensor<T> f1 = detail::cpu_input(op, f1_in), f2 = detail::cpu_input(op, f2_in);
    Tensor<T> g1 = Tensor<T>::zeros(f1.shape()), g2 = Tensor<T>::zeros(f2.shape());
    std::vector<double> loss_b(static_cast<size_t>(B));
    parallel_for(B, [&](int64_t b) {
        std::vector<T> v(static_cast<size_t>(2 * R * D)), gv(static_cast<size_t>(2 * R * D));
        auto walk = [&](auto&& fn) {  // fn(row, element of row, flat offset into the (C,H,W) map, view)
            for (int view = 0; view < 2; ++view)
                for (int64_t r = 0; r < R; ++r) {
                    const int64_t cell = cells.data()[b * R + r], cy = cell / gw, cx = cell % gw;
                    int64_t e = 0;
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t ky = 0; ky < K; ++ky)
                            for (int64_t kx = 0; kx < K; ++kx, ++e)
                                fn(view * R + r, e, (c * H + cy * K + ky) * W + cx * K + kx, view);
                }
        };
        const T* m1 = f1.data() + b * C * H * W;
        const T* m2 = f2.data() + b * C * H * W;
        walk([&](int64_t row, int64_t e, int64_t off, int view) { v[row * D + e] = (view ? m2 : m1)[off]; });
        loss_b[b] = detail::nt_xent_rows(v.data(), 2 * R, D, p.tau, 1.0 / static_cast<double>(B), gv.data());
        T* d1 = g1.data() + b * C * H * W;
        T* d2 = g2.data() + b * C * H * W;
        walk([&](int64_t row, int64_t e, int64_t off, int view) { (view ? d2 : d1)[off] += gv[row * D + e]; });
    });
    double total = 0;
    for (double l : loss_b) total += l;
    return {total, {g1, g2}};
}

template <class T>
Var<T> local_contrastive_loss(const Var<T>& f1, const Var<T>& f2, const Tensor<int64_t>& cells,
                              const LocalContrastiveParams& p = {}) {
    detail::static_check_float<T>();
    return detail::record_loss<T>("local_contrastive_loss",
                                  local_contrastive_loss_value_and_grad(f1.value(), f2.value(), cells, p), {&f1, &f2});
}

}  // namespace ichseg
