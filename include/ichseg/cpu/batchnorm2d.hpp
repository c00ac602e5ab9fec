/// @file batchnorm2d.hpp (cpu)
/// @brief Batch normalisation over (N, H, W) per channel, with an optional fused ReLU epilogue.
/// One channel per task (channels are independent); sums are accumulated in double, so the result does not
/// depend on the thread count.
#pragma once

#include <cmath>

#include "ichseg/core/parallel.hpp"

namespace ichseg::cpu {

struct BatchNormGeometry {
    int64_t N, C, HW;
};

/// Training forward: batch mean / biased variance normalise x; running stats get the unbiased variance.
/// save_mean / save_invstd (C) receive the statistics used, for the backward pass.
template <class T>
void batchnorm2d_fwd_train(const BatchNormGeometry& g, const T* x, const T* gamma, const T* beta, double eps,
                           double momentum, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd,
                           bool relu) {
    const int64_t M = g.N * g.HW;
    parallel_for(g.C, [&](int64_t c) {
        double s = 0;
        for (int64_t n = 0; n < g.N; ++n) {
            const T* xp = x + (n * g.C + c) * g.HW;
            double ps = 0;
            for (int64_t i = 0; i < g.HW; ++i) ps += xp[i];
            s += ps;
        }
        const double mean = s / static_cast<double>(M);
        double ss = 0;
        for (int64_t n = 0; n < g.N; ++n) {
            const T* xp = x + (n * g.C + c) * g.HW;
            double pss = 0;
            for (int64_t i = 0; i < g.HW; ++i) {
                const double d = xp[i] - mean;
                pss += d * d;
            }
            ss += pss;
        }
        const double var = ss / static_cast<double>(M);
        const double invstd = 1.0 / std::sqrt(var + eps);
        save_mean[c] = static_cast<T>(mean);
        save_invstd[c] = static_cast<T>(invstd);
        if (running_mean) {
            const double unbiased = M > 1 ? ss / static_cast<double>(M - 1) : var;
            running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mean);
            running_var[c] = static_cast<T>((1 - momentum) * running_var[c] + momentum * unbiased);
        }
        const T a = static_cast<T>(invstd * (gamma ? gamma[c] : 1.0));
        const T b = static_cast<T>((beta ? beta[c] : 0.0) - mean * invstd * (gamma ? gamma[c] : 1.0));
        for (int64_t n = 0; n < g.N; ++n) {
            const T* xp = x + (n * g.C + c) * g.HW;
            T* yp = y + (n * g.C + c) * g.HW;
            if (relu)
                for (int64_t i = 0; i < g.HW; ++i) yp[i] = std::max(T(0), xp[i] * a + b);
            else
                for (int64_t i = 0; i < g.HW; ++i) yp[i] = xp[i] * a + b;
        }
    });
}

/// Inference forward with the running statistics.
template <class T>
void batchnorm2d_fwd_infer(const BatchNormGeometry& g, const T* x, const T* gamma, const T* beta, double eps,
                           const T* running_mean, const T* running_var, T* y, bool relu) {
    parallel_for(g.C, [&](int64_t c) {
        const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
        const T a = static_cast<T>(invstd * (gamma ? gamma[c] : 1.0));
        const T b = static_cast<T>((beta ? beta[c] : 0.0) - running_mean[c] * invstd * (gamma ? gamma[c] : 1.0));
        for (int64_t n = 0; n < g.N; ++n) {
            const T* xp = x + (n * g.C + c) * g.HW;
            T* yp = y + (n * g.C + c) * g.HW;
            if (relu)
                for (int64_t i = 0; i < g.HW; ++i) yp[i] = std::max(T(0), xp[i] * a + b);
            else
                for (int64_t i = 0; i < g.HW; ++i) yp[i] = xp[i] * a + b;
        }
    });
}

/// Backward. `y` is the forward output (only read when relu: the ReLU mask is y > 0). mean / invstd are the
/// statistics the forward used (batch ones in training, running ones in inference). With `training` the
/// statistics depend on x and the full batch-norm derivative is used; otherwise dx = dy * gamma * invstd.
/// dx, dgamma, dbeta are overwritten; any of them may be null.
template <class T>
void batchnorm2d_bwd(const BatchNormGeometry& g, const T* dy, const T* x, const T* y, const T* gamma, const T* mean,
                     const T* invstd, bool training, bool relu, T* dx, T* dgamma, T* dbeta) {
    const int64_t M = g.N * g.HW;
    parallel_for(g.C, [&](int64_t c) {
        const double mu = mean[c], is = invstd[c];
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < g.N; ++n) {
            const int64_t off = (n * g.C + c) * g.HW;
            double a = 0, b = 0;
            for (int64_t i = 0; i < g.HW; ++i) {
                const double d = (relu && !(y[off + i] > T(0))) ? 0.0 : static_cast<double>(dy[off + i]);
                a += d;
                b += d * (x[off + i] - mu);
            }
            sdy += a;
            sdyx += b;
        }
        const double gam = gamma ? gamma[c] : 1.0;
        if (dgamma) dgamma[c] = static_cast<T>(sdyx * is);
        if (dbeta) dbeta[c] = static_cast<T>(sdy);
        if (!dx) return;
        const double k = gam * is;
        const double mdy = training ? sdy / M : 0.0;
        const double mdyx = training ? sdyx * is * is / M : 0.0;  // mean(dy * xhat) * invstd
        const T a = static_cast<T>(k), b = static_cast<T>(k * (mdyx * mu - mdy)), cx = static_cast<T>(-k * mdyx);
        // dx = k * (dy - mdy - (x - mu) * mdyx) = a * dy + cx * x + b
        for (int64_t n = 0; n < g.N; ++n) {
            const int64_t off = (n * g.C + c) * g.HW;
            if (relu)
                for (int64_t i = 0; i < g.HW; ++i) {
                    const T d = y[off + i] > T(0) ? dy[off + i] : T(0);
                    dx[off + i] = a * d + cx * x[off + i] + b;
                }
            else
                for (int64_t i = 0; i < g.HW; ++i) dx[off + i] = a * dy[off + i] + cx * x[off + i] + b;
        }
    });
}

}  // namespace ichseg::cpu
