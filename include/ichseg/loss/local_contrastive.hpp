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
///   local_contrastive_loss_value_and_grad(f1, f2, cells, p) -> {loss, {dL/df1, dL/df2}} (the fused entry point,
///   either device); local_contrastive_loss(Var): the tape node.
///   Kernels: cpu/local_contrastive.hpp, cuda/local_contrastive.hpp (kernels/local_contrastive.cu); both run
///   their backend's NT-Xent (cpu/nt_xent.hpp, kernels/nt_xent.cu) once per image.
#pragma once

#include <algorithm>
#include <numeric>

#include "ichseg/core/rng.hpp"
#include "ichseg/cpu/local_contrastive.hpp"
#include "ichseg/loss/common.hpp"
#include "ichseg/params/local_contrastive.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/local_contrastive.hpp"
#endif

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

/// Validates the shapes, the cell size and every cell index (read on the host); the geometry both backends take.
template <class T>
LocalContrastiveGeometry local_contrastive_geometry(const Tensor<T>& f1, const Tensor<T>& f2,
                                                    const Tensor<int64_t>& cells_host,
                                                    const LocalContrastiveParams& p) {
    const char* op = "local_contrastive_loss";
    detail::check_rank(op, "view-1 features", f1, 4);
    detail::check_same_shape(op, "view-1 features", f1, "view-2 features", f2);
    detail::check_rank(op, "cells", cells_host, 2);
    const int64_t B = f1.size(0), C = f1.size(1), H = f1.size(2), W = f1.size(3), K = p.cell;
    ICHSEG_CHECK(K >= 1 && H >= K && W >= K, op, ": cell size ", K, " does not fit feature maps ",
                 to_string(f1.shape()));
    ICHSEG_CHECK(cells_host.size(0) == B && cells_host.size(1) >= 1, op, ": cells ", to_string(cells_host.shape()),
                 " must be (", B, ", R) for features ", to_string(f1.shape()));
    const LocalContrastiveGeometry g{B, C, H, W, K, cells_host.size(1)};
    for (int64_t i = 0; i < cells_host.numel(); ++i)
        ICHSEG_CHECK(cells_host.data()[i] >= 0 && cells_host.data()[i] < g.grid_h() * g.grid_w(), op, ": cell index ",
                     cells_host.data()[i], " outside the ", g.grid_h(), " x ", g.grid_w(), " grid");
    return g;
}

/// {loss, {dL/df1, dL/df2}}; cells may be on the CPU or on the features' device.
template <class T>
LossAndGrad<T> local_contrastive_loss_value_and_grad(const Tensor<T>& f1, const Tensor<T>& f2,
                                                     const Tensor<int64_t>& cells, const LocalContrastiveParams& p) {
    detail::static_check_float<T>();
    const char* op = "local_contrastive_loss";
    const Tensor<int64_t> ch = detail::host_indices(op, "cells", cells);
    const LocalContrastiveGeometry g = local_contrastive_geometry(f1, f2, ch, p);
    const Device dev = detail::op_device(op, {&f1, &f2});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        auto [v, g1, g2] =
            cuda::local_contrastive_loss_value_and_grad(g, p.tau, f1, f2, detail::indices_on(cells, ch, dev));
        return {v, {g1, g2}};
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> f1c = detail::cpu_input(op, f1), f2c = detail::cpu_input(op, f2);
    Tensor<T> g1 = Tensor<T>::empty(f1c.shape()), g2 = Tensor<T>::empty(f2c.shape());
    const double v =
        cpu::local_contrastive_loss_value_and_grad(g, p.tau, f1c.data(), f2c.data(), ch.data(), g1.data(), g2.data());
    return {v, {g1, g2}};
}

template <class T>
Var<T> local_contrastive_loss(const Var<T>& f1, const Var<T>& f2, const Tensor<int64_t>& cells,
                              const LocalContrastiveParams& p = {}) {
    return detail::record_loss<T>("local_contrastive_loss",
                                  local_contrastive_loss_value_and_grad(f1.value(), f2.value(), cells, p), {&f1, &f2});
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template LossAndGrad<float> local_contrastive_loss_value_and_grad<float>(
    const Tensor<float>&, const Tensor<float>&, const Tensor<int64_t>&, const LocalContrastiveParams&);
ICHSEG_EXTERN_TEMPLATE template Var<float> local_contrastive_loss<float>(const Var<float>&, const Var<float>&,
                                                                         const Tensor<int64_t>&,
                                                                         const LocalContrastiveParams&);
}  // namespace ichseg
#endif
