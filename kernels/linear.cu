/// @file linear.cu
/// @brief GEMM for linear layers: ichseg's SIMT kernel (linear.cuh) or cuBLAS (dlopen of libcublas.so.13);
/// row bias and column sums for the bias and its gradient.
#include <cublas_v2.h>

#include "dynlib.cuh"
#include "elementwise.cuh"
#include "ichseg/cuda/linear.hpp"
#include "linear.cuh"

namespace ichseg::cuda {

namespace {
struct CublasApi {
    decltype(&::cublasCreate_v2) create = nullptr;
    decltype(&::cublasSetStream_v2) set_stream = nullptr;
    decltype(&::cublasSetMathMode) set_math = nullptr;
    decltype(&::cublasSgemm_v2) sgemm = nullptr;
};
detail::DynLib& cublas_lib() {
    static detail::DynLib l;
    return l;
}
const CublasApi& cublas() {
    static const CublasApi a = [] {
        ICHSEG_CHECK(cublas_lib().open("ICHSEG_CUBLAS_LIBRARY", {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}),
                     "cuBLAS backend requested but cuBLAS is not available: ", cublas_lib().why());
        CublasApi r;
        r.create = cublas_lib().symbol<decltype(&::cublasCreate_v2)>("cublasCreate_v2");
        r.set_stream = cublas_lib().symbol<decltype(&::cublasSetStream_v2)>("cublasSetStream_v2");
        r.set_math = cublas_lib().symbol<decltype(&::cublasSetMathMode)>("cublasSetMathMode");
        r.sgemm = cublas_lib().symbol<decltype(&::cublasSgemm_v2)>("cublasSgemm_v2");
        return r;
    }();
    return a;
}
void cublas_check(cublasStatus_t s, const char* what) {
    if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLAS error ", static_cast<int>(s), " in ", what);
}
cublasHandle_t cublas_handle() {
    thread_local cublasHandle_t h[64] = {};
    int dev = 0;
    ICHSEG_CUDA_CHECK(cudaGetDevice(&dev));
    if (!h[dev]) cublas_check(cublas().create(&h[dev]), "cublasCreate");
    cublas_check(cublas().set_stream(h[dev], detail::stream()), "cublasSetStream");
    return h[dev];
}
}  // namespace

bool cublas_available(std::string* why) {
    const bool ok = cublas_lib().open("ICHSEG_CUBLAS_LIBRARY", {"libcublas.so.13", "libcublas.so.12", "libcublas.so"});
    if (!ok && why) *why = cublas_lib().why();
    return ok;
}

namespace kern {
struct RowBias {
    int cols;
    const float* b;
    float* y;
    __device__ void operator()(long long i) const { y[i] += __ldg(b + i % cols); }
};
struct ColumnSum {
    int rows, cols;
    const float* dy;
    float* db;
    __device__ void operator()(long long c) const {
        float s = 0.f;
        for (int r = 0; r < rows; ++r) s += __ldg(dy + static_cast<long long>(r) * cols + c);
        db[c] = s;
    }
};
}  // namespace kern

namespace launch {
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, Precision prec, GemmBackend backend) {
    if (M == 0 || N == 0) return;
    if (backend == GemmBackend::Cublas) {
        cublasHandle_t h = cublas_handle();
        cublas_check(cublas().set_math(h, prec == Precision::FP32 ? CUBLAS_DEFAULT_MATH : CUBLAS_TF32_TENSOR_OP_MATH),
                     "cublasSetMathMode");
        // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
        cublas_check(cublas().sgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                    static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), &alpha, B,
                                    static_cast<int>(ldb), A, static_cast<int>(lda), &beta, C, static_cast<int>(ldc)),
                     "cublasSgemm");
        return;
    }
    dim3 grid(static_cast<unsigned>((N + kern::gemm::TN - 1) / kern::gemm::TN),
              static_cast<unsigned>((M + kern::gemm::TM - 1) / kern::gemm::TM));
    kern::gemm::gemm_kernel<<<grid, 256, 0, detail::stream()>>>(
        trans_a, trans_b, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A,
        static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc), prec != Precision::FP32);
    ICHSEG_CUDA_LAUNCH_CHECK();
}
void add_row_bias(int64_t rows, int64_t cols, const float* b, float* y) {
    kern::launch_map(rows * cols, kern::RowBias{static_cast<int>(cols), b, y});
}
void column_sum(int64_t rows, int64_t cols, const float* dy, float* db) {
    kern::launch_map(cols, kern::ColumnSum{static_cast<int>(rows), static_cast<int>(cols), dy, db});
}
}  // namespace launch
}  // namespace ichseg::cuda
