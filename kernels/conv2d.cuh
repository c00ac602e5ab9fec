/// @file conv2d.cuh
/// @brief Convolution fprop / dgrad / wgrad as one implicit-GEMM kernel template (NCHW, groups 1).
///
/// GEMM view of each role (M x N outputs, Kd reduction), operands gathered on the fly, nothing materialised:
///   fprop  M = K, N = N*P*Q, Kd = C*R*S   A(k, crs)  = w[k, c, r, s]      B(crs, npq) = x[n, c, p*sh-ph+r, q*sw-pw+s]
///   dgrad  M = C, N = N*H*W, Kd = K*R*S   A(c, krs)  = w[k, c, r, s]      B(krs, nhw) = dy[n, k, (h+ph-r)/sh, (w+pw-s)/sw]
///   wgrad  M = K, N = C*R*S, Kd = N*P*Q   A(k, npq)  = dy[n, k, p, q]     B(npq, crs) = x[n, c, p*sh-ph+r, q*sw-pw+s]
/// (dgrad terms whose (h+ph-r) is not a multiple of the stride, or fall outside the output, are zero.)
///
/// Block tile 64 (M) x 128 (N) x 32 (Kd), 256 threads = 8 warps as 2 x 4, each warp owning 32 x 32 outputs.
///   Math::Simt: FP32 FMA, each thread a 4 x 8 register tile (the reference-precision path).
///   Math::TF32: wmma m16n16k8 TF32 tensor-core MMA, FP32 accumulate; operands rounded to TF32 in shared memory.
///   Math::BF16: wmma m16n16k16 BF16 tensor-core MMA, FP32 accumulate; operands stored as BF16 in shared memory.
/// Pipeline: the next K-tile is fetched from global memory into registers while the current one is multiplied
/// from shared memory (one shared buffer, two barriers per tile). Address arithmetic is hoisted out of the
/// inner loop by two small shared tables: one entry per output column of the block (computed once) and one per
/// reduction index of the current and next K-tile (computed by 32 threads per tile), so loads cost one table
/// read and a bounds check, no integer division.
/// Operand layout in shared memory follows the fast axis of global memory: A is always stored row-major
/// (reduction index fastest); B row-major [Kd][N] for fprop/dgrad (pixels fastest) and column-major [N][Kd] for
/// wgrad (pixels are the reduction index there), so the global loads of every warp are coalesced and the shared
/// stores conflict-free.
/// Epilogue: accumulators go through shared memory and are written with pixel-fastest coalesced stores; fprop
/// adds the bias; wgrad writes one partial per split of Kd (split-K for occupancy), reduced by a second kernel in
/// split order (deterministic).
/// Versions tried: none measured yet (written without a GPU; see docs/cuda.md for the plan of what to measure).
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include "common.cuh"
#include "ichseg/cuda/conv2d.hpp"

// Read-only loads through the texture path in device code; plain loads when the helpers below run on the host
// (tests/cuda/test_conv_emulation.cu replays the kernel's data movement on the CPU).
#ifdef __CUDA_ARCH__
#define ICHSEG_LDG(p) __ldg(p)
#else
#define ICHSEG_LDG(p) (*(p))
#endif

namespace ichseg::cuda::kern {

enum class Role { Fprop, Dgrad, Wgrad };
enum class Math { Simt, TF32, BF16 };

namespace conv {
constexpr int BM = 64, BN = 128, BK = 32, NT = 256;
constexpr int C_LD = BN + 4;  // epilogue staging leading dimension (floats)

template <Math M>
struct Smem {
    using T = std::conditional_t<M == Math::BF16, __nv_bfloat16, float>;
    static constexpr int PAD = M == Math::BF16 ? 8 : 4;  // keeps wmma's ldm and 32-byte alignment rules
    static constexpr int A_LD = BK + PAD;                 // A: [BM][A_LD]
    static constexpr int BR_LD = BN + PAD;                // B row-major: [BK][BR_LD]
    static constexpr int BC_LD = BK + PAD;                // B col-major: [BN][BC_LD]
    static constexpr int A_ELEMS = BM * A_LD;
    static constexpr int B_ELEMS = (BK * BR_LD > BN * BC_LD) ? BK * BR_LD : BN * BC_LD;
    static constexpr int AB_BYTES = (A_ELEMS + B_ELEMS) * static_cast<int>(sizeof(T));
    static constexpr int C_BYTES = BM * C_LD * 4;
    static constexpr int BYTES = AB_BYTES > C_BYTES ? AB_BYTES : C_BYTES;
};

struct Args {
    Conv2dGeometry g;  // int64 on the host; copied into ints below
    int N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;
    int M, Ngemm, Kd;
    int k_chunk;  // reduction indices per blockIdx.z (multiple of BK)
    const float* a_src;
    const float* b_src;
    const float* bias;
    float* out;
    long long split_stride;  // wgrad: elements between the partials of consecutive splits
};

template <class T>
__device__ __forceinline__ T to_smem(float v);
template <>
__device__ __forceinline__ float to_smem<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 to_smem<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

/// Per-column table entry (fixed for the block).
///   fprop: {n*C*H*W, p*sh - ph, q*sw - pw, valid}   dgrad: {n*K*P*Q, h + ph, w + pw, valid}
///   wgrad: {c*H*W, r, s, valid}
template <Role RL>
__host__ __device__ __forceinline__ int4 column_entry(const Args& a, int j) {
    if (j >= a.Ngemm) return make_int4(0, 0, 0, 0);
    if constexpr (RL == Role::Fprop) {
        const int PQ = a.P * a.Q, n = j / PQ, pq = j - n * PQ, p = pq / a.Q, q = pq - p * a.Q;
        return make_int4(n * a.C * a.H * a.W, p * a.sh - a.ph, q * a.sw - a.pw, 1);
    } else if constexpr (RL == Role::Dgrad) {
        const int HW = a.H * a.W, n = j / HW, hw = j - n * HW, h = hw / a.W, w = hw - h * a.W;
        return make_int4(n * a.K * a.P * a.Q, h + a.ph, w + a.pw, 1);
    } else {
        const int RS = a.R * a.S, c = j / RS, rs = j - c * RS, r = rs / a.S, s = rs - r * a.S;
        return make_int4(c * a.H * a.W, r, s, 1);
    }
}

/// Per-reduction-index table entry (valid flag: w != INT_MIN, except wgrad where x < 0 marks invalid).
///   fprop: {c*H*W, r, s, 1}   dgrad: {k*P*Q, r, s, k*C*R*S + r*S + s}   wgrad: {n*K*P*Q + p*Q + q, n*C*H*W, p*sh - ph, q*sw - pw}
template <Role RL>
__host__ __device__ __forceinline__ int4 k_entry(const Args& a, int kk, int k_end) {
    if (kk >= k_end) return make_int4(-1, 0, 0, -1);
    if constexpr (RL == Role::Fprop) {
        const int RS = a.R * a.S, c = kk / RS, rs = kk - c * RS, r = rs / a.S, s = rs - r * a.S;
        return make_int4(c * a.H * a.W, r, s, 1);
    } else if constexpr (RL == Role::Dgrad) {
        const int RS = a.R * a.S, k = kk / RS, rs = kk - k * RS, r = rs / a.S, s = rs - r * a.S;
        return make_int4(k * a.P * a.Q, r, s, k * a.C * RS + rs);
    } else {
        const int PQ = a.P * a.Q, n = kk / PQ, pq = kk - n * PQ, p = pq / a.Q, q = pq - p * a.Q;
        return make_int4(n * a.K * PQ + pq, n * a.C * a.H * a.W, p * a.sh - a.ph, q * a.sw - a.pw);
    }
}

constexpr int A_PER_THREAD = BM * BK / NT;  // 8
constexpr int B_PER_THREAD = BK * BN / NT;  // 16

template <Role RL>
__host__ __device__ __forceinline__ float load_a(const Args& a, const int4* ktab, int m0, int k0, int e) {
    const int ml = e >> 5, kl = e & 31, m = m0 + ml;
    if (m >= a.M) return 0.f;
    if constexpr (RL == Role::Fprop) {
        const int kk = k0 + kl;
        if (ktab[kl].w < 0) return 0.f;
        return ICHSEG_LDG(a.a_src + static_cast<long long>(m) * a.Kd + kk);
    } else if constexpr (RL == Role::Dgrad) {
        const int4 t = ktab[kl];
        if (t.w < 0) return 0.f;
        return ICHSEG_LDG(a.a_src + t.w + m * a.R * a.S);
    } else {
        const int4 t = ktab[kl];
        if (t.x < 0) return 0.f;
        return ICHSEG_LDG(a.a_src + t.x + m * a.P * a.Q);
    }
}

template <Role RL>
__host__ __device__ __forceinline__ float load_b(const Args& a, const int4* ktab, const int4* jtab, int e) {
    if constexpr (RL == Role::Wgrad) {
        const int kl = e & 31, jl = e >> 5;
        const int4 t = ktab[kl], c = jtab[jl];
        if (t.x < 0 || !c.w) return 0.f;
        const int ih = t.z + c.y, iw = t.w + c.z;
        if (ih < 0 || ih >= a.H || iw < 0 || iw >= a.W) return 0.f;
        return ICHSEG_LDG(a.b_src + t.y + c.x + ih * a.W + iw);
    } else {
        const int jl = e & (BN - 1), kl = e >> 7;
        const int4 t = ktab[kl], c = jtab[jl];
        if (!c.w || t.w < 0) return 0.f;
        if constexpr (RL == Role::Fprop) {
            const int ih = c.y + t.y, iw = c.z + t.z;
            if (ih < 0 || ih >= a.H || iw < 0 || iw >= a.W) return 0.f;
            return ICHSEG_LDG(a.b_src + c.x + t.x + ih * a.W + iw);
        } else {
            int p = c.y - t.y, q = c.z - t.z;
            if (p < 0 || q < 0) return 0.f;
            if (a.sh != 1) {
                if (p % a.sh) return 0.f;
                p /= a.sh;
            }
            if (a.sw != 1) {
                if (q % a.sw) return 0.f;
                q /= a.sw;
            }
            if (p >= a.P || q >= a.Q) return 0.f;
            return ICHSEG_LDG(a.b_src + c.x + t.x + p * a.Q + q);
        }
    }
}

/// Shared-memory offset of the A element loaded as index e (row e / 32 = m, column e % 32 = reduction index).
template <Math MT>
__host__ __device__ __forceinline__ int a_smem_offset(int e) {
    return (e >> 5) * Smem<MT>::A_LD + (e & 31);
}
/// Shared-memory offset of the B element loaded as index e (see load_b for the element mapping).
template <Role RL, Math MT>
__host__ __device__ __forceinline__ int b_smem_offset(int e) {
    if constexpr (RL == Role::Wgrad) return (e >> 5) * Smem<MT>::BC_LD + (e & 31);  // (n = e/32, k = e%32)
    else return (e >> 7) * Smem<MT>::BR_LD + (e & (BN - 1));                      // (k = e/128, n = e%128)
}
/// Shared-memory offset of B(k, n) inside the tile.
template <Role RL, Math MT>
__host__ __device__ __forceinline__ int b_tile_offset(int k, int n) {
    if constexpr (RL == Role::Wgrad) return n * Smem<MT>::BC_LD + k;
    else return k * Smem<MT>::BR_LD + n;
}
/// The epilogue's store of GEMM output (m, j) of split z.
template <Role RL>
__host__ __device__ __forceinline__ void store_output(const Args& a, int m, int j, int z, float v) {
    if constexpr (RL == Role::Fprop) {
        const int PQ = a.P * a.Q, n = j / PQ, pq = j - n * PQ;
        a.out[(static_cast<long long>(n) * a.K + m) * PQ + pq] = v + (a.bias ? ICHSEG_LDG(a.bias + m) : 0.f);
    } else if constexpr (RL == Role::Dgrad) {
        const int HW = a.H * a.W, n = j / HW, hw = j - n * HW;
        a.out[(static_cast<long long>(n) * a.C + m) * HW + hw] = v;
    } else {
        a.out[z * a.split_stride + static_cast<long long>(m) * a.Ngemm + j] = v;
    }
}

template <Role RL, Math MT>
__global__ void __launch_bounds__(NT) implicit_gemm_kernel(Args a) {
    using SM = Smem<MT>;
    using T = typename SM::T;
    constexpr bool kBColMajor = RL == Role::Wgrad;
    __shared__ __align__(128) unsigned char smem_raw[SM::BYTES];
    __shared__ int4 jtab[BN];
    __shared__ int4 ktab[2][BK];
    T* As = reinterpret_cast<T*>(smem_raw);
    T* Bs = As + SM::A_ELEMS;
    float* Cs = reinterpret_cast<float*>(smem_raw);

    const int tid = threadIdx.x;
    const int j0 = blockIdx.x * BN, m0 = blockIdx.y * BM;
    const int k_begin = blockIdx.z * a.k_chunk;
    const int k_end = min(a.Kd, k_begin + a.k_chunk);
    const int ntiles = k_end > k_begin ? (k_end - k_begin + BK - 1) / BK : 0;

    if (tid < BN) jtab[tid] = column_entry<RL>(a, j0 + tid);
    if (tid < BK) ktab[0][tid] = k_entry<RL>(a, k_begin + tid, k_end);
    __syncthreads();

    float ra[A_PER_THREAD], rb[B_PER_THREAD];
    auto fetch = [&](int t) {
        const int4* kt = ktab[t & 1];
        const int k0 = k_begin + t * BK;
#pragma unroll
        for (int i = 0; i < A_PER_THREAD; ++i) ra[i] = load_a<RL>(a, kt, m0, k0, tid + i * NT);
#pragma unroll
        for (int i = 0; i < B_PER_THREAD; ++i) rb[i] = load_b<RL>(a, kt, jtab, tid + i * NT);
    };
    auto stash = [&]() {
#pragma unroll
        for (int i = 0; i < A_PER_THREAD; ++i) {
            const int e = tid + i * NT;
            float v = ra[i];
            if constexpr (MT == Math::TF32) v = nvcuda::wmma::__float_to_tf32(v);
            As[a_smem_offset<MT>(e)] = to_smem<T>(v);
        }
#pragma unroll
        for (int i = 0; i < B_PER_THREAD; ++i) {
            const int e = tid + i * NT;
            float v = rb[i];
            if constexpr (MT == Math::TF32) v = nvcuda::wmma::__float_to_tf32(v);
            Bs[b_smem_offset<RL, MT>(e)] = to_smem<T>(v);
        }
    };

    const int warp = tid >> 5, wm = warp >> 2, wn = warp & 3;  // warp tile rows wm*32, cols wn*32

    // ---- accumulators
    using namespace nvcuda;
    constexpr int WK = MT == Math::BF16 ? 16 : 8;
    using AccFrag = wmma::fragment<wmma::accumulator, 16, 16, WK, float>;
    AccFrag acc[2][2];
    float sacc[4][8];
    if constexpr (MT != Math::Simt) {
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);
    } else {
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 8; ++j) sacc[i][j] = 0.f;
    }

    if (ntiles > 0) {
        fetch(0);
        stash();
    }
    for (int t = 0; t < ntiles; ++t) {
        if (t + 1 < ntiles && tid < BK) ktab[(t + 1) & 1][tid] = k_entry<RL>(a, k_begin + (t + 1) * BK + tid, k_end);
        __syncthreads();  // tile t is in shared memory; ktab for t+1 is ready
        if (t + 1 < ntiles) fetch(t + 1);
        if constexpr (MT == Math::Simt) {
            const int ty = tid >> 4, tx = tid & 15;
#pragma unroll 4
            for (int k = 0; k < BK; ++k) {
                float av[4], bv[8];
#pragma unroll
                for (int i = 0; i < 4; ++i) av[i] = As[(ty * 4 + i) * SM::A_LD + k];
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    const int col = (j < 4 ? tx * 4 + j : 64 + tx * 4 + (j - 4));
                    bv[j] = Bs[b_tile_offset<RL, MT>(k, col)];
                }
#pragma unroll
                for (int i = 0; i < 4; ++i)
#pragma unroll
                    for (int j = 0; j < 8; ++j) sacc[i][j] = fmaf(av[i], bv[j], sacc[i][j]);
            }
        } else {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
            using AT = std::conditional_t<MT == Math::BF16, __nv_bfloat16, wmma::precision::tf32>;
            using BLayout = std::conditional_t<kBColMajor, wmma::col_major, wmma::row_major>;
#pragma unroll
            for (int ks = 0; ks < BK; ks += WK) {
                wmma::fragment<wmma::matrix_a, 16, 16, WK, AT, wmma::row_major> fa[2];
                wmma::fragment<wmma::matrix_b, 16, 16, WK, AT, BLayout> fb[2];
#pragma unroll
                for (int i = 0; i < 2; ++i)
                    wmma::load_matrix_sync(fa[i], As + (wm * 32 + i * 16) * SM::A_LD + ks, SM::A_LD);
#pragma unroll
                for (int j = 0; j < 2; ++j) {
                    const int col = wn * 32 + j * 16;
                    if constexpr (kBColMajor) wmma::load_matrix_sync(fb[j], Bs + col * SM::BC_LD + ks, SM::BC_LD);
                    else wmma::load_matrix_sync(fb[j], Bs + ks * SM::BR_LD + col, SM::BR_LD);
                }
#pragma unroll
                for (int i = 0; i < 2; ++i)
#pragma unroll
                    for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
            }
#else
            __trap();  // tensor-core paths need sm_80 or newer (the host checks before launching)
#endif
        }
        __syncthreads();  // everyone is done reading tile t
        if (t + 1 < ntiles) stash();
    }

    // ---- epilogue: stage the block's outputs in shared memory (the operand buffers are free now)
    if constexpr (MT == Math::Simt) {
        const int ty = tid >> 4, tx = tid & 15;
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const int col = (j < 4 ? tx * 4 + j : 64 + tx * 4 + (j - 4));
                Cs[(ty * 4 + i) * C_LD + col] = sacc[i][j];
            }
    } else {
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < 2; ++j)
                wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * C_LD + wn * 32 + j * 16, acc[i][j], C_LD,
                                        wmma::mem_row_major);
    }
    __syncthreads();
    for (int e = tid; e < BM * BN; e += NT) {
        const int ml = e >> 7, jl = e & (BN - 1), m = m0 + ml, j = j0 + jl;
        if (m >= a.M || j >= a.Ngemm) continue;
        store_output<RL>(a, m, j, static_cast<int>(blockIdx.z), Cs[ml * C_LD + jl]);
    }
}

/// out[i] = sum over s < splits of part[s * n + i], in split order.
__global__ void reduce_splits_kernel(const float* __restrict__ part, int splits, long long n, float* __restrict__ out);

/// Host side: fill Args and launch one role at one math mode (defined in the role's .cu file).
template <Role RL>
void run_implicit_gemm(const Conv2dGeometry& g, const float* a_src, const float* b_src, const float* bias, float* out,
                       Precision prec);

/// wgrad split-K: about four blocks per SM in flight, every split at least 8 K-tiles; sets a.k_chunk and
/// returns the number of splits.
inline int wgrad_splits(Args& a, int sms) {
    const long long tiles_mn = static_cast<long long>((a.Ngemm + BN - 1) / BN) * ((a.M + BM - 1) / BM);
    const long long want = 4LL * sms;
    const int ktiles = (a.Kd + BK - 1) / BK;
    int splits = static_cast<int>(std::min<long long>((want + tiles_mn - 1) / tiles_mn, std::max(1, ktiles / 8)));
    splits = std::max(1, std::min(splits, 4096));
    const int tiles_per_split = (ktiles + splits - 1) / splits;
    a.k_chunk = tiles_per_split * BK;
    return (ktiles + tiles_per_split - 1) / tiles_per_split;
}

inline Args make_args(const Conv2dGeometry& g, Role rl) {
    Args a{};
    a.g = g;
    a.N = static_cast<int>(g.N), a.C = static_cast<int>(g.C), a.H = static_cast<int>(g.H), a.W = static_cast<int>(g.W);
    a.K = static_cast<int>(g.K), a.R = static_cast<int>(g.R), a.S = static_cast<int>(g.S);
    a.P = static_cast<int>(g.P), a.Q = static_cast<int>(g.Q);
    a.sh = static_cast<int>(g.stride_h), a.sw = static_cast<int>(g.stride_w), a.ph = static_cast<int>(g.pad_h),
    a.pw = static_cast<int>(g.pad_w);
    if (rl == Role::Fprop) {
        a.M = a.K, a.Ngemm = a.N * a.P * a.Q, a.Kd = a.C * a.R * a.S;
    } else if (rl == Role::Dgrad) {
        a.M = a.C, a.Ngemm = a.N * a.H * a.W, a.Kd = a.K * a.R * a.S;
    } else {
        a.M = a.K, a.Ngemm = a.C * a.R * a.S, a.Kd = a.N * a.P * a.Q;
    }
    a.k_chunk = (a.Kd + BK - 1) / BK * BK;
    return a;
}

/// Precision -> kernel math, refusing tensor-core math on devices older than sm_80 with a clear message.
inline Math math_for(Precision p) {
    if (p == Precision::FP32) return Math::Simt;
    ICHSEG_CHECK(detail::compute_capability() >= 80, "conv2d: ", precision_name(p),
                 " tensor-core math needs an sm_80 or newer GPU; use Precision::FP32 on this device");
    return p == Precision::TF32 ? Math::TF32 : Math::BF16;
}

template <Role RL, Math MT>
void launch_implicit_gemm(const Args& a, int splits) {
    dim3 grid((a.Ngemm + BN - 1) / BN, (a.M + BM - 1) / BM, splits);
    ICHSEG_CHECK(grid.y <= 65535 && grid.z <= 65535, "conv2d: problem too large for the kernel grid");
    implicit_gemm_kernel<RL, MT><<<grid, NT, 0, detail::stream()>>>(a);
    ICHSEG_CUDA_LAUNCH_CHECK();
}

}  // namespace conv
}  // namespace ichseg::cuda::kern
