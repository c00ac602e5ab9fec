/// @file batchnorm2d.hpp (cpu)
/// @brief Batch normalisation over (N, H, W) per channel, with an optional fused ReLU epilogue.
/// One channel per task (channels are independent), so the result does not depend on the thread count. Each
/// plane (one image, one channel) is reduced with vectorised partial sums, and planes are summed in double.
#pragma once

#include <cmath>

#include "ichseg/core/parallel.hpp"
#include "ichseg/params/batchnorm2d.hpp"

namespace ichseg::cpu {

/// Sum of one plane: vectorised partial sums in T, returned as double.
template <class T>
double plane_sum(const T* p, int64_t n) {
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return s;
}
/// Sum of squared deviations from m of one plane.
template <class T>
double plane_sq_dev(const T* p, int64_t n, T m) {
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += (p[i] - m) * (p[i] - m);
    return s;
}

/// Training forward: batch mean / biased variance normalise x; running stats get the unbiased variance.
/// save_mean / save_invstd (C) receive the statistics used, for the backward pass.
template <class T>
void batchnorm2d_fwd_train(const BatchNorm2dGeometry& g, const T* x, const T* gamma, const T* beta, double eps,
                           double momentum, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd,
                           bool relu) {
    const int64_t M = g.N * g.HW;
    parallel_for(g.C, [&](int64_t c) {
        double s = 0;
        for (int64_t n = 0; n < g.N; ++n) s += plane_sum(x + (n * g.C + c) * g.HW, g.HW);
        const double mean = s / static_cast<double>(M);
        double ss = 0;
        for (int64_t n = 0; n < g.N; ++n) ss += plane_sq_dev(x + (n * g.C + c) * g.HW, g.HW, static_cast<T>(mean));
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
            if (relu) {
#pragma omp simd
                for (int64_t i = 0; i < g.HW; ++i) yp[i] = std::max(T(0), xp[i] * a + b);
            } else {
#pragma omp simd
                for (int64_t i = 0; i < g.HW; ++i) yp[i] = xp[i] * a + b;
            }
        }
    }, 4 * g.N * g.C * g.HW);
}

/// The affine map the inference forward applies to channel c, y = x * scale + shift: scale = gamma / sqrt(var + eps),
/// shift = beta - mean * scale, computed in double and rounded once each. gamma / beta may be null (1 / 0).
/// Shared with the convolution's batch-norm epilogue (ops/conv2d.hpp, conv2d_bn_fprop_infer), so both use the same
/// values: the shift is one explicit fused multiply-add, which the compiler cannot contract differently at the two
/// call sites (beta - mean * scale cancels when beta is close to mean * scale, where the choice would show).
template <class T>
void batchnorm2d_infer_affine(int64_t c, const T* gamma, const T* beta, double eps, const T* running_mean,
                              const T* running_var, T& scale, T& shift) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    const double s = invstd * (gamma ? static_cast<double>(gamma[c]) : 1.0);
    scale = static_cast<T>(s);
    shift = static_cast<T>(std::fma(-static_cast<double>(running_mean[c]), s, beta ? static_cast<double>(beta[c]) : 0.0));
}

/// Inference forward with the running statistics.
template <class T>
void batchnorm2d_fwd_infer(const BatchNorm2dGeometry& g, const T* x, const T* gamma, const T* beta, double eps,
                           const T* running_mean, const T* running_var, T* y, bool relu) {
    parallel_for(g.C, [&](int64_t c) {
        T a, b;
        batchnorm2d_infer_affine(c, gamma, beta, eps, running_mean, running_var, a, b);
        for (int64_t n = 0; n < g.N; ++n) {
            const T* xp = x + (n * g.C + c) * g.HW;
            T* yp = y + (n * g.C + c) * g.HW;
            if (relu) {
#pragma omp simd
                for (int64_t i = 0; i < g.HW; ++i) yp[i] = std::max(T(0), xp[i] * a + b);
            } else {
#pragma omp simd
                for (int64_t i = 0; i < g.HW; ++i) yp[i] = xp[i] * a + b;
            }
        }
    }, 4 * g.N * g.C * g.HW);
}

/// Backward. `y` is the forward output (only read when relu: the ReLU mask is y > 0). mean / invstd are the
/// statistics the forward used (batch ones in training, running ones in inference). With `training` the
/// statistics depend on x and the full batch-norm derivative is used; otherwise dx = dy * gamma * invstd.
/// dx, dgamma, dbeta are overwritten; any of them may be null.
template <class T>
void batchnorm2d_bwd(const BatchNorm2dGeometry& g, const T* dy, const T* x, const T* y, const T* gamma, const T* mean,
                     const T* invstd, bool training, bool relu, T* dx, T* dgamma, T* dbeta) {
    const int64_t M = g.N * g.HW;
    parallel_for(g.C, [&](int64_t c) {
        const double mu = mean[c], is = invstd[c];
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < g.N; ++n) {
            const int64_t off = (n * g.C + c) * g.HW;
            const T* dyp = dy + off;
            const T* xp = x + off;
            const T* yp = relu ? y + off : nullptr;
            const T m = static_cast<T>(mu);
            T a = 0, b = 0;  // per-plane partial sums in T (vectorised), accumulated across planes in double
            if (relu) {
#pragma omp simd reduction(+ : a, b)
                for (int64_t i = 0; i < g.HW; ++i) {
                    const T d = yp[i] > T(0) ? dyp[i] : T(0);
                    a += d;
                    b += d * (xp[i] - m);
                }
            } else {
#pragma omp simd reduction(+ : a, b)
                for (int64_t i = 0; i < g.HW; ++i) {
                    a += dyp[i];
                    b += dyp[i] * (xp[i] - m);
                }
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
            const T* dyp = dy + off;
            const T* xp = x + off;
            T* dxp = dx + off;
            if (relu) {
                const T* yp = y + off;
#pragma omp simd
                for (int64_t i = 0; i < g.HW; ++i) dxp[i] = a * (yp[i] > T(0) ? dyp[i] : T(0)) + cx * xp[i] + b;
            } else {
#pragma omp simd
                for (int64_t i = 0; i < g.HW; ++i) dxp[i] = a * dyp[i] + cx * xp[i] + b;
            }
        }
    }, 4 * g.N * g.C * g.HW);
}

/// The statistics the inference forward uses, as the backward pass reads them: mean = running_mean,
/// invstd = 1 / sqrt(running_var + eps).
template <class T>
void batchnorm2d_infer_stats(int64_t C, const T* running_mean, const T* running_var, double eps, T* mean, T* invstd) {
    for (int64_t c = 0; c < C; ++c) {
        mean[c] = running_mean[c];
        invstd[c] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps));
    }
}

}  // namespace ichseg::cpu

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::cpu {
ICHSEG_EXTERN_TEMPLATE template void batchnorm2d_fwd_train<float>(const BatchNorm2dGeometry&, const float*,
                                                                  const float*, const float*, double, double, float*,
                                                                  float*, float*, float*, float*, bool);
ICHSEG_EXTERN_TEMPLATE template void batchnorm2d_fwd_infer<float>(const BatchNorm2dGeometry&, const float*,
                                                                  const float*, const float*, double, const float*,
                                                                  const float*, float*, bool);
ICHSEG_EXTERN_TEMPLATE template void batchnorm2d_bwd<float>(const BatchNorm2dGeometry&, const float*, const float*,
                                                            const float*, const float*, const float*, const float*,
                                                            bool, bool, float*, float*, float*);
}  // namespace ichseg::cpu
#endif
