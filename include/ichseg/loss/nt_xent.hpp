/// @file nt_xent.hpp
/// @brief NT-Xent / InfoNCE loss of SimCLR (SPEC §4, global contrastive).
///
/// z (2N, D): rows i and i + N are two views of one image. u_i = z_i / max(|z_i|, 1e-12),
/// s_ij = u_i . u_j / tau. For anchor i the positive is p(i) = (i + N) mod 2N and every other row j != i is in
/// the denominator (1 positive + 2N - 2 negatives):
///   l_i = -s_{i,p(i)} + log sum_{j != i} exp(s_ij),   L = (1 / 2N) sum_i l_i
/// Gradient: A_ij = (softmax_{j != i}(s_i)_j - [j = p(i)]) / 2N, dU = (A + A^T) U / tau,
///           dz_i = (dU_i - u_i (u_i . dU_i)) / |z_i|.
///   nt_xent_loss_value_and_grad(z, tau) -> {loss, {dL/dz}} (the fused entry point, either device);
///   nt_xent_loss(Var): the tape node.  Kernels: cpu/nt_xent.hpp, cuda/nt_xent.hpp (kernels/nt_xent.cu).
#pragma once

#include "ichseg/cpu/nt_xent.hpp"
#include "ichseg/loss/common.hpp"
#include "ichseg/params/nt_xent.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/nt_xent.hpp"
#endif

namespace ichseg {

/// Validates the shape and the temperature; the geometry both backends take.
template <class T>
NtXentGeometry nt_xent_geometry(const Tensor<T>& z, double tau) {
    const char* op = "nt_xent_loss";
    detail::check_rank(op, "embeddings", z, 2);
    ICHSEG_CHECK(z.size(0) >= 2 && z.size(0) % 2 == 0, op, ": need 2N rows (two views of N images), got ",
                 to_string(z.shape()));
    ICHSEG_CHECK(tau > 0, op, ": temperature must be positive, got ", tau);
    return {z.size(0), z.size(1)};
}

template <class T>
LossAndGrad<T> nt_xent_loss_value_and_grad(const Tensor<T>& z, double tau) {
    detail::static_check_float<T>();
    const char* op = "nt_xent_loss";
    const NtXentGeometry g = nt_xent_geometry(z, tau);
    const Device dev = detail::op_device(op, {&z});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        auto [v, grad] = cuda::nt_xent_loss_value_and_grad(g, tau, z);
        return {v, {grad}};
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> zc = detail::cpu_input(op, z);
    Tensor<T> grad = Tensor<T>::empty(zc.shape());
    const double v = cpu::nt_xent_loss_value_and_grad(g, tau, zc.data(), grad.data());
    return {v, {grad}};
}

/// NT-Xent of z = cat(view1 embeddings, view2 embeddings) (2N, D).
template <class T>
Var<T> nt_xent_loss(const Var<T>& z, double tau = 0.1) {
    return detail::record_loss<T>("nt_xent_loss", nt_xent_loss_value_and_grad(z.value(), tau), {&z});
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template LossAndGrad<float> nt_xent_loss_value_and_grad<float>(const Tensor<float>&, double);
ICHSEG_EXTERN_TEMPLATE template Var<float> nt_xent_loss<float>(const Var<float>&, double);
}  // namespace ichseg
#endif
