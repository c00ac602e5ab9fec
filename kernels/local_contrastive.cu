/// @file local_contrastive.cu
/// @brief Local (region) contrastive loss: gather the K x K regions of the R cells of both views per image into a
/// (B, 2R, D) block, NT-Xent per image (nt_xent_groups of kernels/nt_xent.cu, weight 1 / B), scatter the region
/// gradients back into the zeroed maps (atomicAdd: a cell drawn twice adds its two gradients, as on the CPU).
#include "elementwise.cuh"
#include "ichseg/cuda/local_contrastive.hpp"

namespace ichseg::cuda {
namespace kern {

struct RegionIndex {
    int C, H, W, K, R, gw;
    const int64_t* cells;
    /// element (b, row, e) of the gathered (B, 2R, D) block -> (view, offset into the (C,H,W) map of image b)
    __device__ void map(long long idx, int& view, long long& off) const {
        const int D = C * K * K;
        const long long br = idx / D;
        const int e = static_cast<int>(idx - br * D);
        const int b = static_cast<int>(br / (2 * R)), row = static_cast<int>(br - static_cast<long long>(b) * 2 * R);
        view = row / R;
        const int r = row - view * R;
        const int cell = static_cast<int>(cells[static_cast<long long>(b) * R + r]), cy = cell / gw, cx = cell - cy * gw;
        const int c = e / (K * K), rem = e - c * K * K, ky = rem / K, kx = rem - ky * K;
        off = static_cast<long long>(b) * C * H * W + (static_cast<long long>(c) * H + cy * K + ky) * W + cx * K + kx;
    }
};
struct RegionGather {
    RegionIndex ix;
    const float* f1;
    const float* f2;
    float* v;
    __device__ void operator()(long long i) const {
        int view;
        long long off;
        ix.map(i, view, off);
        v[i] = (view ? f2 : f1)[off];
    }
};
struct RegionScatter {
    RegionIndex ix;
    const float* gv;
    float* g1;
    float* g2;
    __device__ void operator()(long long i) const {
        int view;
        long long off;
        ix.map(i, view, off);
        atomicAdd((view ? g2 : g1) + off, gv[i]);
    }
};
}  // namespace kern

namespace launch {
double local_contrastive_loss_value_and_grad(const LocalContrastiveGeometry& g, double tau, const float* f1,
                                             const float* f2, const int64_t* cells, float* g1, float* g2) {
    const int64_t D = g.D(), n = g.B * g.rows() * D;
    cudaStream_t st = detail::stream();
    ICHSEG_CUDA_CHECK(cudaMemsetAsync(g1, 0, sizeof(float) * g.map_numel(), st));
    ICHSEG_CUDA_CHECK(cudaMemsetAsync(g2, 0, sizeof(float) * g.map_numel(), st));
    if (n == 0) return 0.0;
    const kern::RegionIndex ix{static_cast<int>(g.C), static_cast<int>(g.H), static_cast<int>(g.W),
                               static_cast<int>(g.K), static_cast<int>(g.R), static_cast<int>(g.grid_w()),
                               cells};
    detail::Workspace<float> v(static_cast<std::size_t>(n)), gv(static_cast<std::size_t>(n));
    kern::launch_map(n, kern::RegionGather{ix, f1, f2, v.ptr});
    const double loss =
        nt_xent_groups(g.B, NtXentGeometry{g.rows(), D}, tau, 1.0 / static_cast<double>(g.B), v.ptr, gv.ptr);
    kern::launch_map(n, kern::RegionScatter{ix, gv.ptr, g1, g2});
    return loss;
}
}  // namespace launch
}  // namespace ichseg::cuda
