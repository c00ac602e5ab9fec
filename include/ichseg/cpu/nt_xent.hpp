/// @file nt_xent.hpp (cpu)
/// @brief CPU kernel of the fused NT-Xent loss (contract and formulas: loss/nt_xent.hpp): normalise the rows,
/// similarities by one GEMM, a log-sum-exp per anchor in double (dL/dsim written in place), then
/// dU = (A + A^T) U / tau by a second GEMM and the projection through the normalisation.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "ichseg/cpu/gemm.hpp"
#include "ichseg/params/nt_xent.hpp"

namespace ichseg::cpu {

/// NT-Xent of `rows` vectors of length D at z (row-major; rows i and i + rows/2 are positives); writes dL/dz
/// into g, scaled by `weight`; returns the loss times `weight`. Also the per-image step of the local
/// contrastive loss (cpu/local_contrastive.hpp).
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
    gemm<T>(false, true, rows, rows, D, static_cast<T>(1.0 / tau), u.data(), D, u.data(), D, T(0), sim.data(), rows);
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
    gemm<T>(false, false, rows, D, rows, static_cast<T>(1.0 / tau), sym.data(), rows, u.data(), D, T(0), du.data(), D);
    // dz_i = (dU_i - u_i (u_i . dU_i)) / |z_i|
    for (int64_t i = 0; i < rows; ++i) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += static_cast<double>(u[i * D + d]) * du[i * D + d];
        for (int64_t d = 0; d < D; ++d) g[i * D + d] = static_cast<T>((du[i * D + d] - u[i * D + d] * dot) / norm[i]);
    }
    return loss * weight / rows;
}

/// z (rows x D, contiguous); writes grad (rows x D); returns the loss.
template <class T>
double nt_xent_loss_value_and_grad(const NtXentGeometry& g, double tau, const T* z, T* grad) {
    return nt_xent_rows(z, g.rows, g.D, tau, 1.0, grad);
}

}  // namespace ichseg::cpu
