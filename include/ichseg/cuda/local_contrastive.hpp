/// @file local_contrastive.hpp (cuda)
/// @brief CUDA fused local contrastive loss (contract: loss/local_contrastive.hpp): the tensor-level launcher
/// that loss/local_contrastive.hpp dispatches to for CUDA tensors, its supports() and the launch:: declaration
/// (kernels/local_contrastive.cu: gather the regions, NT-Xent per image by cuda/nt_xent.hpp's groups, scatter).
#pragma once

#include <tuple>

#include "ichseg/cuda/common.hpp"
#include "ichseg/cuda/nt_xent.hpp"
#include "ichseg/params/local_contrastive.hpp"

namespace ichseg::cuda {

namespace launch {
/// f1, f2 (B, C, H, W), cells (B, R) on the device, validated; writes g1, g2 (zeroed here, then the region
/// gradients scattered in); returns the loss (NT-Xent per image with weight 1 / B, summed).
double local_contrastive_loss_value_and_grad(const LocalContrastiveGeometry& g, double tau, const float* f1,
                                             const float* f2, const int64_t* cells, float* g1, float* g2);
}  // namespace launch

/// The NT-Xent limits for B groups of 2R regions of length C K K, and one image's map (C, H, W) within 32-bit
/// indexing (the gather / scatter hold its sizes in int; offsets into the batch are 64-bit).
template <class T>
Support supports(const LocalContrastiveGeometry& g) {
    return all_of(supports_nt_xent_groups<T>(g.B, NtXentGeometry{g.rows(), g.D()}),
                  supports_elements({g.C * g.H * g.W}));
}

/// {loss, dL/df1, dL/df2}; cells (B, R) on the same device, validated by the caller.
template <class T>
std::tuple<double, Tensor<T>, Tensor<T>> local_contrastive_loss_value_and_grad(const LocalContrastiveGeometry& g,
                                                                               double tau, const Tensor<T>& f1_in,
                                                                               const Tensor<T>& f2_in,
                                                                               const Tensor<int64_t>& cells_in) {
    const char* op = "local_contrastive_loss";
    detail::require_float<T>(op);
    const Device dev = f1_in.device();
    const Tensor<T> f1 = detail::device_input(op, f1_in, dev), f2 = detail::device_input(op, f2_in, dev);
    const Tensor<int64_t> cells = detail::device_input(op, cells_in, dev);
    Tensor<T> g1 = Tensor<T>::empty(f1.shape(), dev), g2 = Tensor<T>::empty(f2.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>)
        v = launch::local_contrastive_loss_value_and_grad(g, tau, f1.data(), f2.data(), cells.data(), g1.data(),
                                                          g2.data());
    return {v, g1, g2};
}

}  // namespace ichseg::cuda
