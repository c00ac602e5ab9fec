/// @file nt_xent.hpp
/// @brief NT-Xent / InfoNCE loss of SimCLR (SPEC §4, global contrastive).
///
/// z (2N, D): rows i and i + N are two views of one image. u_i = z_i / max(|z_i|, 1e-12),
/// s_ij = u_i . u_j / tau. For anchor i the positive is p(i) = (i + N) mod 2N and every other row j != i is in
/// the denominator (1 positive + 2N - 2 negatives):
///   l_i = -s_{i,p(i)} + log sum_{j != i} exp(s_ij),   L = (1 / 2N) sum_i l_i
/// Gradient: A_ij = (softmax_{j != i}(s_i)_j - [j = p(i)]) / 2N, dU = (A + A^T) U / tau,
///           dz_i = (dU_i - u_i (u_i . dU_i)) / |z_i|.
#pragma once

#include <cmath>

#include "ichseg/cpu/gemm.hpp"
#include "ichseg/loss/common.hpp"

namespace ichseg {

namespace detail {
/// NT-Xent of `rows` vectors of length D at z (row-major); writes dL/dz into g (scaled by `weight`); returns L.
template <class T>
double nt_xent_rows(const T* z, int64_t rows, int64_t D, double tau, double weight, T* g) {
    const int64_t n = rows / 2;
    std::vector<T> u(static_cast<size_t>(rows * D)), sim(static_cast<size_t>(rows * rows));
    std::vector<double> norm(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d) s += static_cast<double>(z[i * D + d]) * z[i * D + d];
        norm[i] = std::max(std::sqrt(s), 1e-12);
        for (int64_t d = 0; d < D; ++d) u[i * D + d] = static_cast<T>(z[i * D + d] / norm[i]);
    }
    cpu::gemm<T>(false, true, rows, rows, D, static_cast<T>(1.0 / tau), u.data(), D, u.data(), D, T(0), sim.data(),
                 rows);
    // A = dL/dsim (stored in place of sim), loss accumulated in double.
    double loss = 0;
    for (int64_t i = 0; i < rows; ++i) {
        T* s = sim.data() + i * rows;
        const int64_t pos = (i + n) % rows;
        double m = -INFINITY;
        for (int64_t j = 0; j < rows; ++j)
            if (j != i) m = std::max(m, static_cast<double>(s[j]));
        double se = 0;
        for (int64_t j = 0; j < rows; ++j)
            if (j != i) se += std::exp(s[j] - m);
        const double lse = m + std::log(se);
        loss += lse - s[pos];
        for (int64_t j = 0; j < rows; ++j) {
            const double a = (j == i) ? 0.0 : std::exp(s[j] - lse) - (j == pos ? 1.0 : 0.0);
            s[j] = static_cast<T>(a * weight / rows);
        }
    }
    // dU = (A + A^T) U / tau
    std::vector<T> sym(static_cast<size_t>(rows * rows)), du(static_cast<size_t>(rows * D));
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < rows; ++j) sym[i * rows + j] = sim[i * rows + j] + sim[j * rows + i];
    cpu::gemm<T>(false, false, rows, D, rows, static_cast<T>(1.0 / tau), sym.data(), rows, u.data(), D, T(0),
                 du.data(), D);
    for (int64_t i = 0; i < rows; ++i) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += static_cast<double>(u[i * D + d]) * du[i * D + d];
        for (int64_t d = 0; d < D; ++d) g[i * D + d] = static_cast<T>((du[i * D + d] - u[i * D + d] * dot) / norm[i]);
    }
    return loss * weight / rows;
}
}  // namespace detail

template <class T>
LossAndGrad<T> nt_xent_loss_value_and_grad(const Tensor<T>& z_in, double tau) {
    const char* op = "nt_xent_loss";
    detail::check_rank(op, "embeddings", z_in, 2);
    ICHSEG_CHECK(z_in.size(0) >= 2 && z_in.size(0) % 2 == 0, op, ": need 2N rows (two views of N images), got ",
                 to_string(z_in.shape()));
    ICHSEG_CHECK(tau > 0, op, ": temperature must be positive, got ", tau);
#if ICHSEG_WITH_CUDA
    if (z_in.device().is_cuda()) {
        auto r = cuda::nt_xent_loss_value_and_grad(z_in, tau);
        return {r.first, std::move(r.second)};
    }
#endif
    Tensor<T> z = detail::cpu_input(op, z_in);
    Tensor<T> g = Tensor<T>::empty(z.shape());
    const double l = detail::nt_xent_rows(z.data(), z.size(0), z.size(1), tau, 1.0, g.data());
    return {l, {g}};
}

/// NT-Xent of z = cat(view1 embeddings, view2 embeddings) (2N, D).
template <class T>
Var<T> nt_xent_loss(const Var<T>& z, double tau = 0.1) {
    detail::static_check_float<T>();
    return detail::record_loss<T>("nt_xent_loss", nt_xent_loss_value_and_grad(z.value(), tau), {&z});
}

}  // namespace ichseg
