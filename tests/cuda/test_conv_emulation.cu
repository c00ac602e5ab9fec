/// @file test_conv_emulation.cu
/// @brief Replays the implicit-GEMM convolution kernel's data movement on the CPU and checks the result against
/// naive convolution loops: the column and reduction-index tables, the operand loaders (padding, strides,
/// dgrad's stride masking, wgrad's split-K ranges), the shared-memory tile layouts and the epilogue's output
/// addressing are the kernel's own functions (kernels/conv2d.cuh, __host__ __device__). Only the multiply
/// inside a tile (wmma or the SIMT register tile) and the barriers are not exercised. Runs without a GPU, so it
/// runs in CI; tagged [cuda-emulation], not [cuda].
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "conv2d.cuh"
#include "ichseg/core/rng.hpp"

using namespace ichseg;
using namespace ichseg::cuda::kern;
using namespace ichseg::cuda::kern::conv;

namespace {
using Vec = std::vector<float>;

Vec fill(std::size_t n, uint64_t stream) {
    Vec v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = 2.f * random_uniform(5, stream, i) - 1.f;
    return v;
}

/// The kernel, block by block, thread loops flattened; Math::Simt layouts (TF32/BF16 differ only in the
/// element type stored in shared memory).
template <Role RL>
void emulate(Args a, int splits) {
    using SM = Smem<Math::Simt>;
    Vec As(SM::A_ELEMS), Bs(SM::B_ELEMS);
    int4 jtab[BN], ktab[BK];
    std::vector<double> acc(BM * BN);
    for (int bz = 0; bz < splits; ++bz)
        for (int by = 0; by < (a.M + BM - 1) / BM; ++by)
            for (int bx = 0; bx < (a.Ngemm + BN - 1) / BN; ++bx) {
                const int j0 = bx * BN, m0 = by * BM, k_begin = bz * a.k_chunk;
                const int k_end = std::min(a.Kd, k_begin + a.k_chunk);
                const int ntiles = k_end > k_begin ? (k_end - k_begin + BK - 1) / BK : 0;
                for (int t = 0; t < BN; ++t) jtab[t] = column_entry<RL>(a, j0 + t);
                std::fill(acc.begin(), acc.end(), 0.0);
                for (int t = 0; t < ntiles; ++t) {
                    const int k0 = k_begin + t * BK;
                    for (int i = 0; i < BK; ++i) ktab[i] = k_entry<RL>(a, k0 + i, k_end);
                    for (int e = 0; e < BM * BK; ++e) As[a_smem_offset<Math::Simt>(e)] = load_a<RL>(a, ktab, m0, k0, e);
                    for (int e = 0; e < BK * BN; ++e) Bs[b_smem_offset<RL, Math::Simt>(e)] = load_b<RL>(a, ktab, jtab, e);
                    for (int ml = 0; ml < BM; ++ml)
                        for (int k = 0; k < BK; ++k) {
                            const double av = As[ml * SM::A_LD + k];
                            if (av == 0.0) continue;
                            for (int jl = 0; jl < BN; ++jl) acc[ml * BN + jl] += av * Bs[b_tile_offset<RL, Math::Simt>(k, jl)];
                        }
                }
                for (int ml = 0; ml < BM; ++ml)
                    for (int jl = 0; jl < BN; ++jl)
                        if (m0 + ml < a.M && j0 + jl < a.Ngemm)
                            store_output<RL>(a, m0 + ml, j0 + jl, bz, static_cast<float>(acc[ml * BN + jl]));
            }
}

struct Geo {
    int N, C, H, W, K, R, S, sh, sw, ph, pw;
    int P() const { return (H + 2 * ph - R) / sh + 1; }
    int Q() const { return (W + 2 * pw - S) / sw + 1; }
    Conv2dGeometry shape() const { return {N, C, H, W, K, R, S, P(), Q(), sh, sw, ph, pw}; }
};

float xat(const Geo& g, const Vec& x, int n, int c, int h, int w) {
    if (h < 0 || h >= g.H || w < 0 || w >= g.W) return 0.f;
    return x[((static_cast<std::size_t>(n) * g.C + c) * g.H + h) * g.W + w];
}

void require_close(const Vec& got, const Vec& ref, const char* what) {
    double worst = 0, scale = 0;
    std::size_t unwritten = 0;  // outputs start as NaN: an element the epilogue never stored stays NaN
    for (std::size_t i = 0; i < ref.size(); ++i) {
        if (!std::isfinite(got[i])) ++unwritten;
        else worst = std::max(worst, std::abs(static_cast<double>(got[i]) - ref[i]));
        scale = std::max(scale, std::abs(static_cast<double>(ref[i])));
    }
    INFO(what << ": max |emulated - naive| " << worst << ", max |naive| " << scale << ", non-finite " << unwritten);
    REQUIRE(unwritten == 0);
    REQUIRE(worst <= 1e-5 * std::max(scale, 1.0));  // both sum in double here; float rounding of inputs only
}

void check(const Geo& g, int sms) {
    const int P = g.P(), Q = g.Q();
    const Vec x = fill(static_cast<std::size_t>(g.N) * g.C * g.H * g.W, 1);
    const Vec w = fill(static_cast<std::size_t>(g.K) * g.C * g.R * g.S, 2);
    const Vec b = fill(g.K, 3);
    const Vec dy = fill(static_cast<std::size_t>(g.N) * g.K * P * Q, 4);
    // naive references
    Vec y(dy.size()), dx(x.size(), 0.f), dw(w.size(), 0.f);
    for (int n = 0; n < g.N; ++n)
        for (int k = 0; k < g.K; ++k)
            for (int p = 0; p < P; ++p)
                for (int q = 0; q < Q; ++q) {
                    double s = b[k];
                    const float gy = dy[((static_cast<std::size_t>(n) * g.K + k) * P + p) * Q + q];
                    for (int c = 0; c < g.C; ++c)
                        for (int r = 0; r < g.R; ++r)
                            for (int t = 0; t < g.S; ++t) {
                                const int h = p * g.sh - g.ph + r, ww = q * g.sw - g.pw + t;
                                const std::size_t wi = ((static_cast<std::size_t>(k) * g.C + c) * g.R + r) * g.S + t;
                                s += static_cast<double>(w[wi]) * xat(g, x, n, c, h, ww);
                                if (h >= 0 && h < g.H && ww >= 0 && ww < g.W) {
                                    dx[((static_cast<std::size_t>(n) * g.C + c) * g.H + h) * g.W + ww] += gy * w[wi];
                                    dw[wi] += gy * xat(g, x, n, c, h, ww);
                                }
                            }
                    y[((static_cast<std::size_t>(n) * g.K + k) * P + p) * Q + q] = static_cast<float>(s);
                }
    const Conv2dGeometry cs = g.shape();
    {
        Vec out(y.size(), NAN);
        Args a = make_args(cs, Role::Fprop);
        a.a_src = w.data(), a.b_src = x.data(), a.bias = b.data(), a.out = out.data();
        emulate<Role::Fprop>(a, 1);
        require_close(out, y, "fprop");
    }
    {
        Vec out(x.size(), NAN);
        Args a = make_args(cs, Role::Dgrad);
        a.a_src = w.data(), a.b_src = dy.data(), a.bias = nullptr, a.out = out.data();
        emulate<Role::Dgrad>(a, 1);
        require_close(out, dx, "dgrad");
    }
    {
        Args a = make_args(cs, Role::Wgrad);
        a.a_src = dy.data(), a.b_src = x.data(), a.bias = nullptr;
        const int splits = wgrad_splits(a, sms);
        const long long n_out = static_cast<long long>(a.M) * a.Ngemm;
        Vec part(static_cast<std::size_t>(splits * n_out), NAN), out(w.size());
        a.out = part.data();
        a.split_stride = n_out;
        emulate<Role::Wgrad>(a, splits);
        for (long long i = 0; i < n_out; ++i) {
            float s = 0.f;
            for (int z = 0; z < splits; ++z) s += part[z * n_out + i];  // reduce_splits_kernel's order
            out[i] = s;
        }
        INFO("wgrad with " << splits << " splits of " << a.k_chunk << " reduction indices");
        require_close(out, dw, "wgrad");
    }
}
}  // namespace

TEST_CASE("implicit-GEMM data movement replayed on the CPU equals naive convolution", "[cuda-emulation][conv2d]") {
    const Geo cases[] = {
        {2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1},     // odd sizes, padding 1
        {1, 1, 20, 20, 16, 3, 3, 1, 1, 1, 1},   // the first U-Net layer's channels, several pixel tiles
        {2, 70, 6, 7, 9, 3, 3, 1, 1, 1, 1},     // C*R*S = 630: many K-tiles, M = 9
        {1, 9, 8, 8, 70, 3, 3, 1, 1, 1, 1},     // K = 70 > 64: two M-tiles
        {3, 7, 19, 13, 11, 5, 3, 2, 2, 2, 1},   // stride 2, 5x3 kernel: dgrad stride masking
        {2, 5, 15, 16, 6, 2, 2, 2, 2, 0, 0},    // 2x2 / 2: the up-convolution geometry
        {1, 9, 8, 8, 13, 3, 3, 3, 3, 0, 0},     // stride 3
        {1, 4, 5, 5, 7, 5, 5, 1, 1, 4, 4},      // padding 4
        {1, 12, 9, 9, 20, 1, 1, 1, 1, 0, 0},    // 1x1
        {2, 8, 32, 32, 8, 3, 3, 1, 1, 1, 1},    // wgrad reduction 2048: split-K across blocks
    };
    for (const Geo& g : cases) {
        INFO("N C H W K R S = " << g.N << " " << g.C << " " << g.H << " " << g.W << " " << g.K << " " << g.R << " "
                                << g.S << ", stride " << g.sh << "," << g.sw << ", pad " << g.ph << "," << g.pw);
        check(g, 132);
        check(g, 1);  // one SM: no split
    }
}
