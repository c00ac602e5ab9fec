/// @file max_pool2d.cu
/// @brief Max pooling without padding: one thread per output element; the backward pass recomputes the argmax
/// (first maximum in row-major window order, NaN wins, as on the CPU) and adds dy there.
#include "elementwise.cuh"
#include "ichseg/cuda/max_pool2d.hpp"

namespace ichseg::cuda {
namespace kern {
struct PoolArgs {
    int C, H, W, kh, kw, sh, sw, P, Q;
};
__device__ __forceinline__ int argmax_window(const PoolArgs& a, const float* xp, int p, int q) {
    const int base = p * a.sh * a.W + q * a.sw;
    int arg = base;
    float m = __ldg(xp + base);
    for (int r = 0; r < a.kh; ++r)
        for (int s = 0; s < a.kw; ++s) {
            const int i = base + r * a.W + s;
            const float v = __ldg(xp + i);
            if (v > m || v != v) {
                m = v;
                arg = i;
                if (m != m) return arg;
            }
        }
    return arg;
}
struct PoolFwd {
    PoolArgs a;
    const float* x;
    float* y;
    __device__ void operator()(long long o) const {
        const int PQ = a.P * a.Q;
        const long long plane = o / PQ;
        const int pq = static_cast<int>(o - plane * PQ), p = pq / a.Q, q = pq - p * a.Q;
        const float* xp = x + plane * a.H * a.W;
        y[o] = __ldg(xp + argmax_window(a, xp, p, q));
    }
};
struct PoolBwd {
    PoolArgs a;
    const float* dy;
    const float* x;
    float* dx;
    __device__ void operator()(long long o) const {
        const int PQ = a.P * a.Q;
        const long long plane = o / PQ;
        const int pq = static_cast<int>(o - plane * PQ), p = pq / a.Q, q = pq - p * a.Q;
        const long long off = plane * a.H * a.W;
        atomicAdd(dx + off + argmax_window(a, x + off, p, q), __ldg(dy + o));
    }
};
PoolArgs pool_args(const Pool2dGeometry& g) {
    return {static_cast<int>(g.C), static_cast<int>(g.H), static_cast<int>(g.W), static_cast<int>(g.kh),
            static_cast<int>(g.kw), static_cast<int>(g.sh), static_cast<int>(g.sw), static_cast<int>(g.P),
            static_cast<int>(g.Q)};
}
}  // namespace kern
namespace launch {
void max_pool2d_fwd(const Pool2dGeometry& g, const float* x, float* y) {
    kern::launch_map(g.N * g.C * g.P * g.Q, kern::PoolFwd{kern::pool_args(g), x, y});
}
void max_pool2d_bwd(const Pool2dGeometry& g, const float* dy, const float* x, float* dx) {
    const int64_t n = g.N * g.C * g.H * g.W;
    if (n) ICHSEG_CUDA_CHECK(cudaMemsetAsync(dx, 0, sizeof(float) * n, detail::stream()));
    kern::launch_map(g.N * g.C * g.P * g.Q, kern::PoolBwd{kern::pool_args(g), dy, x, dx});
}
}  // namespace launch
}  // namespace ichseg::cuda
