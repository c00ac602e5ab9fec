/// @file test_gemm_unpacked.cpp
/// @brief cpu::gemm_unpacked (the Winograd transform-domain product, cpu/gemm_unpacked.hpp) against a double
/// reference: every row remainder of its 12-row blocks (M = 1..25), column counts around its 16- and 32-column
/// masks, inner lengths from 0 to 300, leading dimensions larger than the matrices (the padding of C is never
/// written). Tolerance: sequential FP32 accumulation of K products, |y - y_exact| <= gamma_{K+1} S with
/// gamma_n = n 2^-24 and S = sum_k |a_k b_k| (the standard bound; a wrong index or a lost product is O(S)).
/// On builds without AVX-512 the function is cpu::gemm (Eigen), which must meet the same bound.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "ichseg/cpu/gemm_unpacked.hpp"

using namespace ichseg;

TEST_CASE("gemm_unpacked: every row and column remainder, C's padding untouched", "[ops][gemm]") {
    constexpr double kEps32 = 1.0 / 16777216;  // FP32 unit roundoff, 2^-24
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uni(-1.f, 1.f);
    for (int64_t M = 1; M <= 25; ++M)
        for (int64_t N : {1, 15, 16, 17, 31, 32, 33, 64, 70})
            for (int64_t K : {0, 1, 9, 64, 300}) {
                INFO("M " << M << " N " << N << " K " << K);
                const int64_t lda = K + 3, ldb = N + 5, ldc = N + 2;
                std::vector<float> A(static_cast<size_t>(M * lda)), C(static_cast<size_t>(M * ldc));
                std::vector<float> B(static_cast<size_t>(std::max<int64_t>(K, 1) * ldb));
                for (float& v : A) v = uni(rng);
                for (float& v : B) v = uni(rng);
                for (float& v : C) v = uni(rng);
                const std::vector<float> C0 = C;
                cpu::gemm_unpacked(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc);
                int bad = 0;
                for (int64_t i = 0; i < M; ++i)
                    for (int64_t j = 0; j < ldc; ++j) {
                        const float got = C[static_cast<size_t>(i * ldc + j)];
                        if (j >= N) {
                            bad += got != C0[static_cast<size_t>(i * ldc + j)];
                            continue;
                        }
                        double r = 0, mag = 0;
                        for (int64_t k = 0; k < K; ++k) {
                            const double p =
                                double(A[static_cast<size_t>(i * lda + k)]) * B[static_cast<size_t>(k * ldb + j)];
                            r += p;
                            mag += std::abs(p);
                        }
                        bad += !(std::abs(got - r) <= (K + 1) * kEps32 * mag);
                    }
                REQUIRE(bad == 0);
            }
}
