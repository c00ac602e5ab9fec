/// @file conv_transpose2d.cu
/// @brief The pieces of conv_transpose2d that are not a convolution role: the per-channel bias of the forward
/// pass and the bias gradient (also used by conv2d_wgrad's db). The roles themselves: conv2d_{dgrad,fprop,wgrad}.cu.
#include "channel_reduce.cuh"
#include "ichseg/cuda/conv_transpose2d.hpp"

namespace ichseg::cuda {
namespace kern {

__global__ void add_channel_bias_kernel(int C, int HW, const float* __restrict__ b, float* __restrict__ y) {
    const long long plane = blockIdx.x;
    const float bk = __ldg(b + plane % C);
    float* row = y + plane * HW;
    for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < HW; i += gridDim.y * blockDim.x) row[i] += bk;
}

struct SumOp {
    const float* x;
    __device__ void operator()(long long idx, int, float* acc) const { acc[0] += __ldg(x + idx); }
};

__global__ void finalize_sum_kernel(int C, int S, const double* __restrict__ part, float* __restrict__ out) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s = 0;
    for (int i = 0; i < S; ++i) s += part[static_cast<long long>(c) * S + i];
    out[c] = static_cast<float>(s);
}

}  // namespace kern

namespace launch {
void add_channel_bias(int64_t N, int64_t C, int64_t HW, const float* b, float* y) {
    if (N * C * HW == 0) return;
    const int per_plane = static_cast<int>(std::min<int64_t>(64, (HW + 255) / 256));
    dim3 grid(static_cast<unsigned>(N * C), per_plane);
    kern::add_channel_bias_kernel<<<grid, 256, 0, detail::stream()>>>(static_cast<int>(C), static_cast<int>(HW), b, y);
    ICHSEG_CUDA_LAUNCH_CHECK();
}

void channel_sum(int64_t N, int64_t C, int64_t HW, const float* dy, float* db) {
    if (C == 0) return;
    if (N * HW == 0) {
        ICHSEG_CUDA_CHECK(cudaMemsetAsync(db, 0, sizeof(float) * C, detail::stream()));
        return;
    }
    const kern::ChannelSplit sp = kern::channel_split(C, HW);
    detail::Workspace<double> part(static_cast<std::size_t>(C * sp.S));
    kern::channel_partial_kernel<1><<<dim3(static_cast<unsigned>(C), sp.S), 256, 0, detail::stream()>>>(
        static_cast<int>(N), static_cast<int>(C), static_cast<int>(HW), sp.chunk, kern::SumOp{dy}, part.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    kern::finalize_sum_kernel<<<detail::grid_for(C, 128), 128, 0, detail::stream()>>>(static_cast<int>(C), sp.S,
                                                                                       part.ptr, db);
    ICHSEG_CUDA_LAUNCH_CHECK();
}
}  // namespace launch
}  // namespace ichseg::cuda
