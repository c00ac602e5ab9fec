/// @file tsne.hpp
/// @brief t-SNE (van der Maaten & Hinton 2008) to 2-D, for the paper's Figure 5 (512-d pooled bottleneck
/// features of 5,000 validation slices).
///
/// Affinities: Gaussian conditionals calibrated per point to the perplexity (binary search on the precision)
/// over its `neighbors` nearest neighbours in squared Euclidean distance — all n-1 other points (exact t-SNE) or,
/// by default, the floor(3·perplexity + 1) nearest as scikit-learn's default (Barnes-Hut) method (the Gaussian
/// weight beyond them is negligible: < e^-9 of the row for perplexity 30) — then P = (P_j|i + P_i|j) / 2n.
/// Gradient: exact O(n²) Student-t repulsion every iteration (no Barnes-Hut approximation) plus the sparse
/// attraction. Optimiser as scikit-learn: 250 iterations with early exaggeration 12 and momentum 0.5, then
/// momentum 0.8; learning rate max(n / 12 / 4, 50); delta-bar-delta gains (min 0.01). PCA or seeded random init.
///
/// Deterministic: every per-point sum is evaluated in one fixed order by one thread and the global sums are
/// reduced in point order, so the embedding is bitwise identical for a seed whatever the thread count.
#pragma once

#include "ichseg/core/eigen.hpp"
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/core/parallel.hpp"
#include "ichseg/core/rng.hpp"

namespace ichseg::eval {

struct TsneOptions {
    double perplexity = 30;
    /// Nearest neighbours per point used for the affinities; 0 = min(n - 1, floor(3·perplexity + 1)); n - 1 (or any
    /// larger value) = exact affinities over all pairs (memory n² × 12 bytes).
    int64_t neighbors = 0;
    int iterations = 1000;
    int exaggeration_iterations = 250;
    double early_exaggeration = 12;
    /// 0 = "auto": max(n / early_exaggeration / 4, 50) (scikit-learn's rule; the floor of 50 can make very small
    /// sets, n < ~100, oscillate: pass a smaller rate there)
    double learning_rate = 0;
    double momentum_early = 0.5, momentum_late = 0.8;
    double min_gain = 0.01;
    bool pca_init = true;      ///< PCA init (first component scaled to sd 1e-4; needs d >= 2), else N(0, 1e-4²) from the seed
    uint64_t seed = 0;         ///< random init and the tie-breaking of nothing else: PCA init ignores it
};

struct TsneResult {
    std::vector<double> embedding;  ///< n × 2, row-major
    double kl_divergence = 0;       ///< KL(P || Q) at the end (sparse P; nats)
    int64_t n = 0, neighbors = 0;
    double seconds_affinities = 0, seconds_optimisation = 0;
};

namespace detail {

/// Squared Euclidean distances of rows [r0, r1) of X (n × d, float) to all rows, into out ((r1-r0) × n).
/// Fixed 8-lane accumulation: deterministic and vectorisable.
inline void tsne_block_distances(const float* X, int64_t n, int64_t d, int64_t r0, int64_t r1, float* out) {
    constexpr int L = 8;
    for (int64_t j = 0; j < n; ++j) {
        const float* xj = X + j * d;
        for (int64_t i = r0; i < r1; ++i) {
            const float* xi = X + i * d;
            float acc[L] = {0, 0, 0, 0, 0, 0, 0, 0};
            int64_t k = 0;
            for (; k + L <= d; k += L)
                for (int l = 0; l < L; ++l) {
                    const float t = xi[k + l] - xj[k + l];
                    acc[l] += t * t;
                }
            float s = 0;
            for (; k < d; ++k) s += (xi[k] - xj[k]) * (xi[k] - xj[k]);
            for (int l = 0; l < L; ++l) s += acc[l];
            out[(i - r0) * n + j] = s;
        }
    }
}

/// Conditional affinities p_{j|i} over the given squared distances, calibrated so that the Shannon entropy
/// (nats) equals log(perplexity). Writes into p (same length as d2).
inline void tsne_calibrate_row(const float* d2, int64_t k, double perplexity, double* p) {
    const double target = std::log(perplexity);
    double dmin = std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < k; ++j) dmin = std::min(dmin, static_cast<double>(d2[j]));
    double beta = 1, lo = 0, hi = std::numeric_limits<double>::infinity();
    for (int it = 0; it < 200; ++it) {
        double sum = 0, wsum = 0;
        for (int64_t j = 0; j < k; ++j) {
            const double dd = static_cast<double>(d2[j]) - dmin;
            p[j] = std::exp(-beta * dd);
            sum += p[j];
            wsum += dd * p[j];
        }
        const double H = std::log(sum) + beta * wsum / sum;
        const double diff = H - target;
        for (int64_t j = 0; j < k; ++j) p[j] /= sum;
        if (std::abs(diff) < 1e-5) return;
        if (diff > 0) {  // entropy too high: sharpen
            lo = beta;
            beta = std::isinf(hi) ? beta * 2 : (beta + hi) / 2;
        } else {
            hi = beta;
            beta = (beta + lo) / 2;
        }
    }
}

/// Top-k principal axes of X (n × d) by the eigen-decomposition of the covariance (computed in double with a
/// fixed per-thread row split). Returns the projections (n × k, row-major); axis signs fixed so the loading of
/// largest magnitude is positive.
inline std::vector<double> tsne_pca(const std::vector<float>& X, int64_t n, int64_t d, int k) {
    std::vector<double> mu(static_cast<std::size_t>(d), 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t a = 0; a < d; ++a) mu[a] += X[i * d + a];
    for (auto& m : mu) m /= static_cast<double>(n);
    Eigen::MatrixXd C(d, d);
    parallel_for(d, [&](int64_t a) {  // row a of the covariance, summed over points in order
        std::vector<double> row(static_cast<std::size_t>(d), 0.0);
        for (int64_t i = 0; i < n; ++i) {
            const float* x = X.data() + i * d;
            const double xa = x[a] - mu[a];
            for (int64_t b = 0; b < d; ++b) row[b] += xa * (x[b] - mu[b]);
        }
        for (int64_t b = 0; b < d; ++b) C(a, b) = row[b];
    });
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(C);
    ICHSEG_CHECK(es.info() == Eigen::Success, "tsne: PCA eigen-decomposition failed");
    std::vector<double> Y(static_cast<std::size_t>(n * k));
    for (int c = 0; c < k; ++c) {
        Eigen::VectorXd v = es.eigenvectors().col(d - 1 - c);  // eigenvalues ascending
        Eigen::Index imax = 0;
        v.cwiseAbs().maxCoeff(&imax);
        if (v(imax) < 0) v = -v;
        for (int64_t i = 0; i < n; ++i) {
            double s = 0;
            for (int64_t a = 0; a < d; ++a) s += (X[i * d + a] - mu[a]) * v(a);
            Y[i * k + c] = s;
        }
    }
    return Y;
}

}  // namespace detail

/// t-SNE of n points of dimension d (row-major X) to 2-D.
template <class T>
TsneResult tsne(const T* X_in, int64_t n, int64_t d, const TsneOptions& opt = {}) {
    using clock = std::chrono::steady_clock;
    ICHSEG_CHECK(n >= 3 && d >= 1, "tsne: need at least 3 points of dimension >= 1, got n=", n, " d=", d);
    ICHSEG_CHECK(opt.perplexity > 0, "tsne: perplexity must be positive, got ", opt.perplexity);
    ICHSEG_CHECK(opt.perplexity < static_cast<double>(n - 1), "tsne: perplexity ", opt.perplexity,
                 " must be smaller than the number of other points (", n - 1, ")");
    ICHSEG_CHECK(opt.iterations >= 0 && opt.exaggeration_iterations >= 0, "tsne: negative iteration count");
    const auto t0 = clock::now();
    std::vector<float> X(static_cast<std::size_t>(n * d));
    for (int64_t i = 0; i < n * d; ++i) {
        X[i] = static_cast<float>(X_in[i]);
        ICHSEG_CHECK(std::isfinite(X[i]), "tsne: feature ", i % d, " of point ", i / d, " is not finite (",
                     static_cast<double>(X_in[i]), ")");
    }

    // ---- affinities: k nearest neighbours, calibrated conditionals -------------------------------------------
    int64_t K = opt.neighbors > 0 ? std::min(opt.neighbors, n - 1)
                                  : std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor(3 * opt.perplexity + 1)));
    K = std::max<int64_t>(K, 1);
    std::vector<int64_t> nbr(static_cast<std::size_t>(n * K));
    std::vector<double> pcond(static_cast<std::size_t>(n * K));
    constexpr int64_t B = 32;  // row block: fixed, so results never depend on the thread count
    const int64_t nblocks = (n + B - 1) / B;
    parallel_for(nblocks, [&](int64_t blk) {
        const int64_t r0 = blk * B, r1 = std::min(n, r0 + B);
        std::vector<float> D(static_cast<std::size_t>((r1 - r0) * n));
        detail::tsne_block_distances(X.data(), n, d, r0, r1, D.data());
        std::vector<int64_t> idx(static_cast<std::size_t>(n));
        std::vector<float> d2(static_cast<std::size_t>(K));
        for (int64_t i = r0; i < r1; ++i) {
            const float* row = D.data() + (i - r0) * n;
            std::iota(idx.begin(), idx.end(), int64_t{0});
            std::swap(idx[i], idx[n - 1]);  // drop the point itself
            auto less = [&](int64_t a, int64_t b) { return row[a] < row[b] || (row[a] == row[b] && a < b); };
            std::partial_sort(idx.begin(), idx.begin() + K, idx.begin() + (n - 1), less);
            for (int64_t j = 0; j < K; ++j) {
                nbr[i * K + j] = idx[j];
                d2[j] = row[idx[j]];
            }
            detail::tsne_calibrate_row(d2.data(), K, opt.perplexity, pcond.data() + i * K);
        }
    });
    // Symmetrise: P_ij = (p_j|i + p_i|j) / 2n, as CSR (columns ascending per row).
    struct Entry {
        int64_t r, c;
        double v;
    };
    std::vector<Entry> e;
    e.reserve(static_cast<std::size_t>(2 * n * K));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < K; ++j) {
            const double v = pcond[i * K + j] / (2.0 * static_cast<double>(n));
            e.push_back({i, nbr[i * K + j], v});
            e.push_back({nbr[i * K + j], i, v});
        }
    std::sort(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.r < b.r || (a.r == b.r && a.c < b.c); });
    std::vector<int64_t> rowptr(static_cast<std::size_t>(n + 1), 0), col;
    std::vector<double> val;
    for (std::size_t t = 0; t < e.size();) {
        std::size_t u = t;
        double v = 0;
        while (u < e.size() && e[u].r == e[t].r && e[u].c == e[t].c) v += e[u++].v;  // same pair: add in order
        col.push_back(e[t].c);
        val.push_back(v);
        ++rowptr[e[t].r + 1];
        t = u;
    }
    for (int64_t i = 0; i < n; ++i) rowptr[i + 1] += rowptr[i];
    { std::vector<Entry>().swap(e); }
    const auto t1 = clock::now();

    // ---- initial embedding ---------------------------------------------------------------------------------
    std::vector<double> Y(static_cast<std::size_t>(2 * n));
    bool initialised = false;
    if (opt.pca_init && d >= 2) {  // 1-D input has no second principal axis: random init
        Y = detail::tsne_pca(X, n, d, 2);
        double m = 0, s = 0;
        for (int64_t i = 0; i < n; ++i) m += Y[2 * i];
        m /= static_cast<double>(n);
        for (int64_t i = 0; i < n; ++i) s += (Y[2 * i] - m) * (Y[2 * i] - m);
        s = std::sqrt(s / static_cast<double>(n));
        if (s > 0 && std::isfinite(s)) {
            for (auto& y : Y) y = y / s * 1e-4;
            initialised = true;
        }
    }
    if (!initialised)
        for (int64_t i = 0; i < 2 * n; ++i) Y[i] = 1e-4 * random_normal(opt.seed, 0x74736e65ull /* "tsne" */, i);

    // ---- gradient descent ----------------------------------------------------------------------------------
    const double lr = opt.learning_rate > 0 ? opt.learning_rate
                                            : std::max(static_cast<double>(n) / opt.early_exaggeration / 4, 50.0);
    std::vector<float> yx(static_cast<std::size_t>(n)), yy(static_cast<std::size_t>(n));  // repulsion in float
    std::vector<double> zrow(static_cast<std::size_t>(n)), rep(static_cast<std::size_t>(2 * n)),
        att(static_cast<std::size_t>(2 * n));
    std::vector<double> update(static_cast<std::size_t>(2 * n), 0.0), gains(static_cast<std::size_t>(2 * n), 1.0);
    double Z = 1;
    auto gradient_terms = [&]() {
        for (int64_t i = 0; i < n; ++i) {
            yx[i] = static_cast<float>(Y[2 * i]);
            yy[i] = static_cast<float>(Y[2 * i + 1]);
        }
        parallel_for(n, [&](int64_t i) {
            // Repulsion: float lanes (16 per step, 2 AVX registers; ~2.5x the double throughput), each lane a
            // fixed subsequence of j, lanes and tail summed in a fixed order into double.
            constexpr int L = 16;
            using Lanes = Eigen::Array<float, L, 1>;
            const float xi = yx[i], yi = yy[i];
            Lanes z = Lanes::Zero(), rx = Lanes::Zero(), ry = Lanes::Zero();
            int64_t j = 0;
            for (; j + L <= n; j += L) {
                const Lanes dx = xi - Eigen::Map<const Lanes>(yx.data() + j);
                const Lanes dy = yi - Eigen::Map<const Lanes>(yy.data() + j);
                const Lanes q = (1.0f + dx * dx + dy * dy).inverse();
                const Lanes q2 = q * q;
                z += q;
                rx += q2 * dx;
                ry += q2 * dy;
            }
            double zs = 0, rxs = 0, rys = 0;
            for (; j < n; ++j) {
                const float dx = xi - yx[j], dy = yi - yy[j];
                const float q = 1.0f / (1.0f + dx * dx + dy * dy);
                zs += q;
                rxs += q * q * dx;
                rys += q * q * dy;
            }
            for (int l = 0; l < L; ++l) {  // lanes in a fixed order
                zs += z[l];
                rxs += rx[l];
                rys += ry[l];
            }
            zrow[i] = zs - 1.0;  // remove the j == i term (q = 1, zero displacement)
            rep[2 * i] = rxs;
            rep[2 * i + 1] = rys;
            double ax = 0, ay = 0;  // attraction over the sparse P row, in double
            for (int64_t t = rowptr[i]; t < rowptr[i + 1]; ++t) {
                const int64_t j2 = col[t];
                const double dx = Y[2 * i] - Y[2 * j2], dy = Y[2 * i + 1] - Y[2 * j2 + 1];
                const double q = 1.0 / (1.0 + dx * dx + dy * dy);
                ax += val[t] * q * dx;
                ay += val[t] * q * dy;
            }
            att[2 * i] = ax;
            att[2 * i + 1] = ay;
        });
        Z = 0;
        for (int64_t i = 0; i < n; ++i) Z += zrow[i];
    };
    for (int it = 0; it < opt.iterations; ++it) {
        const bool early = it < opt.exaggeration_iterations;
        if (it == opt.exaggeration_iterations) {  // second stage starts afresh, as scikit-learn
            std::fill(update.begin(), update.end(), 0.0);
            std::fill(gains.begin(), gains.end(), 1.0);
        }
        const double exag = early ? opt.early_exaggeration : 1.0;
        const double momentum = early ? opt.momentum_early : opt.momentum_late;
        gradient_terms();
        for (int64_t k = 0; k < 2 * n; ++k) {
            const double g = 4.0 * (exag * att[k] - rep[k] / Z);
            gains[k] = (update[k] * g < 0) ? gains[k] + 0.2 : gains[k] * 0.8;
            if (gains[k] < opt.min_gain) gains[k] = opt.min_gain;
            update[k] = momentum * update[k] - lr * gains[k] * g;
            Y[k] += update[k];
        }
        double mx = 0, my = 0;  // keep the embedding centred (does not change the cost)
        for (int64_t i = 0; i < n; ++i) {
            mx += Y[2 * i];
            my += Y[2 * i + 1];
        }
        mx /= static_cast<double>(n);
        my /= static_cast<double>(n);
        for (int64_t i = 0; i < n; ++i) {
            Y[2 * i] -= mx;
            Y[2 * i + 1] -= my;
        }
    }
    for (double y : Y) ICHSEG_CHECK(std::isfinite(y), "tsne: the embedding diverged (non-finite coordinate)");

    // ---- final KL(P || Q) ----------------------------------------------------------------------------------
    gradient_terms();
    TsneResult r;
    double kl = 0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t t = rowptr[i]; t < rowptr[i + 1]; ++t) {
            const int64_t j = col[t];
            const double dx = Y[2 * i] - Y[2 * j], dy = Y[2 * i + 1] - Y[2 * j + 1];
            const double q = 1.0 / (1.0 + dx * dx + dy * dy) / Z;
            if (val[t] > 0) kl += val[t] * std::log(val[t] / std::max(q, 1e-300));
        }
    const auto t2 = clock::now();
    r.embedding = std::move(Y);
    r.kl_divergence = kl;
    r.n = n;
    r.neighbors = K;
    r.seconds_affinities = std::chrono::duration<double>(t1 - t0).count();
    r.seconds_optimisation = std::chrono::duration<double>(t2 - t1).count();
    return r;
}

/// std::vector convenience (X is n × d row-major).
template <class T>
TsneResult tsne(const std::vector<T>& X, int64_t n, int64_t d, const TsneOptions& opt = {}) {
    ICHSEG_CHECK(static_cast<int64_t>(X.size()) == n * d, "tsne: feature array has ", X.size(),
                 " values, expected n*d = ", n, "*", d, " = ", n * d);
    return tsne(X.data(), n, d, opt);
}

}  // namespace ichseg::eval
