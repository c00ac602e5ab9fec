/// @file nt_xent.hpp (cuda)
/// @brief CUDA fused NT-Xent (contract and formulas: loss/nt_xent.hpp): the tensor-level launcher that
/// loss/nt_xent.hpp dispatches to for CUDA tensors, its supports() and the launch:: declarations
/// (kernels/nt_xent.cu). nt_xent_groups is also the per-image step of kernels/local_contrastive.cu.
#pragma once

#include <string>
#include <utility>

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/nt_xent.hpp"

namespace ichseg::cuda {

namespace launch {
/// NT-Xent of G independent groups of g.rows vectors of length g.D (z: G x rows x D, on the device); each
/// group's loss and gradient are scaled by `weight`; writes grad; returns the sum over groups (the CPU's
/// cpu::nt_xent_rows summed over groups).
double nt_xent_groups(int64_t G, const NtXentGeometry& g, double tau, double weight, const float* z, float* grad);
/// One group, weight 1.
double nt_xent_loss_value_and_grad(const NtXentGeometry& g, double tau, const float* z, float* grad);
}  // namespace launch

/// The most rows, and the longest row, that the kernels stage in 48 KiB of shared memory (one float each).
inline constexpr int64_t kNtXentMaxStaged = 48 * 1024 / 4;

/// Limits of the NT-Xent kernels for `groups` groups of g: float; rows and D staged in shared memory; one grid
/// row per group (at most 65535). Offsets are 64-bit; the rows x rows similarities of a group fit int.
template <class T>
Support supports_nt_xent_groups(int64_t groups, const NtXentGeometry& g) {
    if (g.rows > kNtXentMaxStaged || g.D > kNtXentMaxStaged)
        return Support::no(std::to_string(g.rows) + " embeddings of length " + std::to_string(g.D) +
                           " exceed the kernels' shared-memory staging (at most " + std::to_string(kNtXentMaxStaged) +
                           " of each)");
    if (groups > 65535)
        return Support::no(std::to_string(groups) + " independent groups exceed the kernels' grid (at most 65535)");
    return supports_dtype<T>();
}

template <class T>
Support supports(const NtXentGeometry& g) {
    return supports_nt_xent_groups<T>(1, g);
}

/// {loss, dL/dz} for z (2N, D) on a CUDA device.
template <class T>
std::pair<double, Tensor<T>> nt_xent_loss_value_and_grad(const NtXentGeometry& g, double tau, const Tensor<T>& z_in) {
    const char* op = "nt_xent_loss";
    detail::require_float<T>(op);
    const Tensor<T> z = detail::device_input(op, z_in, z_in.device());
    Tensor<T> grad = Tensor<T>::empty(z.shape(), z.device());
    double v = 0;
    if constexpr (std::is_same_v<T, float>) v = launch::nt_xent_loss_value_and_grad(g, tau, z.data(), grad.data());
    return {v, grad};
}

}  // namespace ichseg::cuda
