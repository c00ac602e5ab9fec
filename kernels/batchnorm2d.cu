/// @file batchnorm2d.cu
/// @brief Batch-norm launchers: ichseg kernels (batchnorm2d.cuh) or cuDNN, selected per call.
#include "batchnorm2d.cuh"
#include "cudnn_backend.cuh"
#include "ichseg/cuda/batchnorm2d.hpp"

namespace ichseg::cuda {
namespace kern::bn {

__global__ void finalize_train_kernel(int C, int S, long long count, const double* __restrict__ part,
                                      const float* __restrict__ x, int HW, const float* __restrict__ gamma,
                                      const float* __restrict__ beta, double eps, double momentum,
                                      float* __restrict__ rmean, float* __restrict__ rvar, float* __restrict__ smean,
                                      float* __restrict__ sinvstd, float* __restrict__ coef) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s1 = 0, s2 = 0;
    for (int i = 0; i < S; ++i) {
        s1 += part[(static_cast<long long>(c) * S + i) * 2];
        s2 += part[(static_cast<long long>(c) * S + i) * 2 + 1];
    }
    const double n = static_cast<double>(count);
    const double md = s1 / n;
    const double var = fmax(s2 / n - md * md, 0.0);
    const double mean = static_cast<double>(x[static_cast<long long>(c) * HW]) + md;
    const double invstd = 1.0 / sqrt(var + eps);
    smean[c] = static_cast<float>(mean);
    sinvstd[c] = static_cast<float>(invstd);
    if (rmean) {
        const double unbiased = count > 1 ? var * n / (n - 1) : var;
        rmean[c] = static_cast<float>((1 - momentum) * rmean[c] + momentum * mean);
        rvar[c] = static_cast<float>((1 - momentum) * rvar[c] + momentum * unbiased);
    }
    const double g = gamma ? gamma[c] : 1.0;
    coef[c] = static_cast<float>(invstd * g);
    coef[C + c] = static_cast<float>((beta ? beta[c] : 0.0) - mean * invstd * g);
}

__global__ void coef_infer_kernel(int C, const float* __restrict__ gamma, const float* __restrict__ beta, double eps,
                                  const float* __restrict__ rmean, const float* __restrict__ rvar,
                                  float* __restrict__ smean, float* __restrict__ sinvstd, float* __restrict__ coef) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double invstd = 1.0 / sqrt(static_cast<double>(rvar[c]) + eps);
    const double g = gamma ? gamma[c] : 1.0;
    smean[c] = rmean[c];
    sinvstd[c] = static_cast<float>(invstd);
    coef[c] = static_cast<float>(invstd * g);
    coef[C + c] = static_cast<float>((beta ? beta[c] : 0.0) - rmean[c] * invstd * g);
}

/// y = a[c] x + b[c] (+ ReLU). blockIdx.x = plane (n*C + c), blockIdx.y = slice of the plane.
__global__ void apply_kernel(int C, int HW, const float* __restrict__ x, const float* __restrict__ coef,
                             float* __restrict__ y, bool relu) {
    const long long plane = blockIdx.x;
    const int c = static_cast<int>(plane % C);
    const float a = coef[c], b = coef[C + c];
    const float* xp = x + plane * HW;
    float* yp = y + plane * HW;
    const int stride = gridDim.y * blockDim.x;
    // float4 only when every plane starts on a 16-byte boundary: HW % 4 == 0 AND both base pointers aligned (a
    // view with a storage offset, e.g. narrow() of a flat buffer, can start anywhere).
    const bool aligned = ((reinterpret_cast<unsigned long long>(x) | reinterpret_cast<unsigned long long>(y)) & 15) == 0;
    if ((HW & 3) == 0 && aligned) {
        const float4* x4 = reinterpret_cast<const float4*>(xp);
        float4* y4 = reinterpret_cast<float4*>(yp);
        for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < HW / 4; i += stride) {
            float4 v = __ldg(x4 + i);
            v.x = fmaf(v.x, a, b), v.y = fmaf(v.y, a, b), v.z = fmaf(v.z, a, b), v.w = fmaf(v.w, a, b);
            if (relu) v.x = fmaxf(v.x, 0.f), v.y = fmaxf(v.y, 0.f), v.z = fmaxf(v.z, 0.f), v.w = fmaxf(v.w, 0.f);
            y4[i] = v;
        }
    } else {
        for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < HW; i += stride) {
            float v = fmaf(__ldg(xp + i), a, b);
            yp[i] = relu ? fmaxf(v, 0.f) : v;
        }
    }
}

__global__ void finalize_bwd_kernel(int C, int S, long long count, const double* __restrict__ part,
                                    const float* __restrict__ gamma, const float* __restrict__ mean,
                                    const float* __restrict__ invstd, bool training, float* __restrict__ dgamma,
                                    float* __restrict__ dbeta, float* __restrict__ coef) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double sdy = 0, sdyx = 0;
    for (int i = 0; i < S; ++i) {
        sdy += part[(static_cast<long long>(c) * S + i) * 2];
        sdyx += part[(static_cast<long long>(c) * S + i) * 2 + 1];
    }
    const double mu = mean[c], is = invstd[c], gam = gamma ? gamma[c] : 1.0, M = static_cast<double>(count);
    if (dgamma) dgamma[c] = static_cast<float>(sdyx * is);
    if (dbeta) dbeta[c] = static_cast<float>(sdy);
    const double k = gam * is;
    const double mdy = training ? sdy / M : 0.0;
    const double mdyx = training ? sdyx * is * is / M : 0.0;
    coef[c] = static_cast<float>(k);
    coef[C + c] = static_cast<float>(k * (mdyx * mu - mdy));
    coef[2 * C + c] = static_cast<float>(-k * mdyx);
}

/// dx = a dy' + cx x + b with dy' = dy masked by y > 0 when y is given.
__global__ void bwd_apply_kernel(int C, int HW, const float* __restrict__ dy, const float* __restrict__ x,
                                 const float* __restrict__ y, const float* __restrict__ coef, float* __restrict__ dx) {
    const long long plane = blockIdx.x;
    const int c = static_cast<int>(plane % C);
    const float a = coef[c], b = coef[C + c], cx = coef[2 * C + c];
    const long long off = plane * HW;
    for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < HW; i += gridDim.y * blockDim.x) {
        float d = __ldg(dy + off + i);
        if (y && !(__ldg(y + off + i) > 0.f)) d = 0.f;
        dx[off + i] = fmaf(a, d, fmaf(cx, __ldg(x + off + i), b));
    }
}

__global__ void relu_inplace_kernel(long long n, float* __restrict__ y) {
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long long>(gridDim.x) * blockDim.x)
        y[i] = fmaxf(y[i], 0.f);
}
__global__ void relu_mask_kernel(long long n, const float* __restrict__ dy, const float* __restrict__ y,
                                 float* __restrict__ out) {
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long long>(gridDim.x) * blockDim.x)
        out[i] = y[i] > 0.f ? dy[i] : 0.f;
}

dim3 plane_grid(int64_t N, int64_t C, int64_t HW) {
    const int64_t planes = N * C;
    // enough blocks for the machine even with few planes, at most one thread per element
    int64_t per = (4LL * detail::sm_count() + planes - 1) / planes;
    per = std::max<int64_t>(1, std::min<int64_t>(per, (HW + 1023) / 1024));
    return dim3(static_cast<unsigned>(planes), static_cast<unsigned>(per));
}

}  // namespace kern::bn

namespace launch {
using namespace kern;

void batchnorm2d_fwd_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                           double eps, double momentum, float* running_mean, float* running_var, float* y,
                           float* save_mean, float* save_invstd, bool relu, NormBackend backend) {
    if (C == 0) return;
    if (backend == NormBackend::Cudnn) {
        cudnn::batchnorm_fwd_train(N, C, HW, x, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean,
                                   save_invstd);
        if (relu) {
            bn::relu_inplace_kernel<<<detail::grid_for(N * C * HW, 256, 16 * detail::sm_count()), 256, 0,
                                      detail::stream()>>>(N * C * HW, y);
            ICHSEG_CUDA_LAUNCH_CHECK();
        }
        return;
    }
    cudaStream_t st = detail::stream();
    const ChannelSplit sp = channel_split(C, HW);
    detail::Workspace<double> part(static_cast<std::size_t>(C * sp.S * 2));
    detail::Workspace<float> coef(static_cast<std::size_t>(2 * C));
    channel_partial_kernel<2><<<dim3(static_cast<unsigned>(C), sp.S), 256, 0, st>>>(
        static_cast<int>(N), static_cast<int>(C), static_cast<int>(HW), sp.chunk, bn::StatOp{x, static_cast<int>(HW)},
        part.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    bn::finalize_train_kernel<<<detail::grid_for(C, 128), 128, 0, st>>>(
        static_cast<int>(C), sp.S, N * HW, part.ptr, x, static_cast<int>(HW), gamma, beta, eps, momentum, running_mean,
        running_var, save_mean, save_invstd, coef.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    bn::apply_kernel<<<bn::plane_grid(N, C, HW), 256, 0, st>>>(static_cast<int>(C), static_cast<int>(HW), x, coef.ptr,
                                                               y, relu);
    ICHSEG_CUDA_LAUNCH_CHECK();
}

void batchnorm2d_fwd_infer(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                           double eps, const float* running_mean, const float* running_var, float* y,
                           float* save_mean, float* save_invstd, bool relu, NormBackend backend) {
    if (C == 0) return;
    cudaStream_t st = detail::stream();
    detail::Workspace<float> coef(static_cast<std::size_t>(2 * C));
    bn::coef_infer_kernel<<<detail::grid_for(C, 128), 128, 0, st>>>(static_cast<int>(C), gamma, beta, eps,
                                                                     running_mean, running_var, save_mean,
                                                                     save_invstd, coef.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    if (N * HW == 0) return;
    if (backend == NormBackend::Cudnn) {
        cudnn::batchnorm_fwd_infer(N, C, HW, x, gamma, beta, eps, running_mean, running_var, y);
        if (relu) {
            bn::relu_inplace_kernel<<<detail::grid_for(N * C * HW, 256, 16 * detail::sm_count()), 256, 0, st>>>(
                N * C * HW, y);
            ICHSEG_CUDA_LAUNCH_CHECK();
        }
        return;
    }
    bn::apply_kernel<<<bn::plane_grid(N, C, HW), 256, 0, st>>>(static_cast<int>(C), static_cast<int>(HW), x, coef.ptr,
                                                               y, relu);
    ICHSEG_CUDA_LAUNCH_CHECK();
}

void batchnorm2d_bwd(int64_t N, int64_t C, int64_t HW, const float* dy, const float* x, const float* y,
                     const float* gamma, const float* mean, const float* invstd, double eps, bool training, bool relu,
                     float* dx, float* dgamma, float* dbeta, NormBackend backend) {
    if (C == 0) return;
    cudaStream_t st = detail::stream();
    if (backend == NormBackend::Cudnn && training && dx && dgamma && dbeta) {
        const float* d = dy;
        detail::Workspace<float> masked(relu ? static_cast<std::size_t>(N * C * HW) : 1);
        if (relu) {
            bn::relu_mask_kernel<<<detail::grid_for(N * C * HW, 256, 16 * detail::sm_count()), 256, 0, st>>>(
                N * C * HW, dy, y, masked.ptr);
            ICHSEG_CUDA_LAUNCH_CHECK();
            d = masked.ptr;
        }
        cudnn::batchnorm_bwd(N, C, HW, d, x, gamma, eps, mean, invstd, dx, dgamma, dbeta);
        return;
    }
    const ChannelSplit sp = channel_split(C, HW);
    detail::Workspace<double> part(static_cast<std::size_t>(C * sp.S * 2));
    detail::Workspace<float> coef(static_cast<std::size_t>(3 * C));
    channel_partial_kernel<2><<<dim3(static_cast<unsigned>(C), sp.S), 256, 0, st>>>(
        static_cast<int>(N), static_cast<int>(C), static_cast<int>(HW), sp.chunk,
        bn::BwdOp{dy, x, relu ? y : nullptr, mean}, part.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    bn::finalize_bwd_kernel<<<detail::grid_for(C, 128), 128, 0, st>>>(static_cast<int>(C), sp.S, N * HW, part.ptr,
                                                                       gamma, mean, invstd, training, dgamma, dbeta,
                                                                       coef.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    if (!dx || N * HW == 0) return;
    bn::bwd_apply_kernel<<<bn::plane_grid(N, C, HW), 256, 0, st>>>(static_cast<int>(C), static_cast<int>(HW), dy, x,
                                                                   relu ? y : nullptr, coef.ptr, dx);
    ICHSEG_CUDA_LAUNCH_CHECK();
}

}  // namespace launch
}  // namespace ichseg::cuda
