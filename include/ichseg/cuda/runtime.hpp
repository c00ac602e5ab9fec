/// @file runtime.hpp (cuda)
/// @brief Host-side control of the CUDA backend: device queries, the precision policy, the backend choice for
/// convolution / batch norm / GEMM, and the stream-ordered memory pool's statistics. No CUDA headers here: a
/// plain g++ translation unit can include it (the definitions of the non-inline functions are in
/// kernels/runtime.cu, i.e. in ichseg::cuda).
///
/// Precision policy (docs/cuda.md has the rationale):
///   Precision::FP32  FP32 storage, FP32 SIMT math everywhere (bitwise-deterministic; the reference mode).
///   Precision::TF32  FP32 storage; convolutions and linear layers multiply on tensor cores with TF32 operands
///                    (10-bit mantissa) and FP32 accumulation. The default, as in PyTorch's cuDNN convolutions.
///   Precision::BF16  FP32 storage; convolution operands are rounded to BF16 (8-bit mantissa) when they are staged
///                    in shared memory, tensor-core math with FP32 accumulation.
/// Parameters (master weights), optimizer state, batch-norm statistics, every reduction and every loss are
/// always FP32 (reductions across blocks in FP64), whatever the precision.
/// The precision in force is read when an op launches, so wrap the whole training step (forward AND backward)
/// in one PrecisionGuard. The process default comes from the environment variable ICHSEG_CUDA_PRECISION
/// (fp32 | tf32 | bf16) and can be changed with set_default_precision().
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ichseg/core/error.hpp"

namespace ichseg::cuda {

enum class Precision { FP32, TF32, BF16 };
/// Who computes conv2d fprop/dgrad/wgrad (and so conv_transpose2d): ichseg's implicit-GEMM kernels or cuDNN.
enum class ConvBackend { Ichseg, Cudnn };
/// Who computes batchnorm2d training/inference forward and backward.
enum class NormBackend { Ichseg, Cudnn };
/// Who computes the plain GEMMs of linear layers.
enum class GemmBackend { Ichseg, Cublas };
/// Which convolution algorithms the cuDNN backend may take from cudnnFind (fastest first).
///   Any     every algorithm cuDNN offers, FFT and Winograd included: the speed baseline, as PyTorch's
///           torch.backends.cudnn.benchmark = True. The default.
///   Direct  only the algorithms that sum products of the untransformed operands (implicit, precomputed and
///           explicit GEMM, direct): the accuracy oracle of the [cuda] tests. FFT and Winograd compute in a
///           transformed domain; their FP32 error grows with the transform size and the largest magnitude in
///           the tile, not with each output's own sum, and can exceed the FP32 oracle tolerance (1e-5 x max|ref|).
enum class CudnnAlgos { Any, Direct };

inline const char* precision_name(Precision p) {
    return p == Precision::FP32 ? "fp32" : p == Precision::TF32 ? "tf32" : "bf16";
}

namespace detail {
inline Precision parse_precision(const char* s, Precision fallback) {
    if (!s || !*s) return fallback;
    if (!std::strcmp(s, "fp32") || !std::strcmp(s, "FP32")) return Precision::FP32;
    if (!std::strcmp(s, "tf32") || !std::strcmp(s, "TF32")) return Precision::TF32;
    if (!std::strcmp(s, "bf16") || !std::strcmp(s, "BF16")) return Precision::BF16;
    fail("ICHSEG_CUDA_PRECISION must be fp32, tf32 or bf16, got '", s, "'");
}
inline Precision& default_precision_ref() {
    static Precision p = parse_precision(std::getenv("ICHSEG_CUDA_PRECISION"), Precision::TF32);
    return p;
}
/// -1: no guard active on this thread, else the guarded Precision.
inline int& thread_precision_ref() {
    thread_local int p = -1;
    return p;
}
struct Backends {
    ConvBackend conv = ConvBackend::Ichseg;
    NormBackend norm = NormBackend::Ichseg;
    GemmBackend gemm = GemmBackend::Ichseg;
    CudnnAlgos cudnn_algos = CudnnAlgos::Any;
};
inline Backends& backends_ref() {
    static Backends b = [] {
        Backends r;
        if (const char* s = std::getenv("ICHSEG_CUDA_CONV_BACKEND"))
            r.conv = std::strcmp(s, "cudnn") == 0 ? ConvBackend::Cudnn : ConvBackend::Ichseg;
        if (const char* s = std::getenv("ICHSEG_CUDA_NORM_BACKEND"))
            r.norm = std::strcmp(s, "cudnn") == 0 ? NormBackend::Cudnn : NormBackend::Ichseg;
        if (const char* s = std::getenv("ICHSEG_CUDA_GEMM_BACKEND"))
            r.gemm = std::strcmp(s, "cublas") == 0 ? GemmBackend::Cublas : GemmBackend::Ichseg;
        if (const char* s = std::getenv("ICHSEG_CUDNN_ALGOS"))
            r.cudnn_algos = std::strcmp(s, "direct") == 0 ? CudnnAlgos::Direct : CudnnAlgos::Any;
        return r;
    }();
    return b;
}
}  // namespace detail

/// The precision ops launched now on this thread use: the innermost PrecisionGuard, else the process default.
inline Precision precision() {
    const int t = detail::thread_precision_ref();
    return t >= 0 ? static_cast<Precision>(t) : detail::default_precision_ref();
}
inline Precision default_precision() { return detail::default_precision_ref(); }
inline void set_default_precision(Precision p) { detail::default_precision_ref() = p; }

/// Scoped precision for this thread (like torch.autocast): forward and backward of a step inside one guard.
class PrecisionGuard {
public:
    explicit PrecisionGuard(Precision p) : prev_(detail::thread_precision_ref()) {
        detail::thread_precision_ref() = static_cast<int>(p);
    }
    ~PrecisionGuard() { detail::thread_precision_ref() = prev_; }
    PrecisionGuard(const PrecisionGuard&) = delete;
    PrecisionGuard& operator=(const PrecisionGuard&) = delete;

private:
    int prev_;
};

inline ConvBackend conv_backend() { return detail::backends_ref().conv; }
inline void set_conv_backend(ConvBackend b) { detail::backends_ref().conv = b; }
inline NormBackend norm_backend() { return detail::backends_ref().norm; }
inline void set_norm_backend(NormBackend b) { detail::backends_ref().norm = b; }
inline GemmBackend gemm_backend() { return detail::backends_ref().gemm; }
inline void set_gemm_backend(GemmBackend b) { detail::backends_ref().gemm = b; }
/// The cuDNN algorithm policy (process-wide; environment ICHSEG_CUDNN_ALGOS=direct sets Direct at start-up).
inline CudnnAlgos cudnn_algos() { return detail::backends_ref().cudnn_algos; }
inline void set_cudnn_algos(CudnnAlgos a) { detail::backends_ref().cudnn_algos = a; }

/// Number of usable CUDA devices; 0 when there is none or the driver cannot be used, with the reason in *why.
int device_count(std::string* why = nullptr);
/// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)"; throws when the device does not exist.
std::string device_description(int device = 0);
/// Wait until every op queued on the current device's ichseg stream has finished (and report its errors).
void synchronize();
/// The ichseg stream of the current device as an opaque handle (a cudaStream_t), for callers that interoperate.
void* stream_handle();

/// cuDNN and cuBLAS are loaded at run time (dlopen of libcudnn.so.9 / libcublas.so.13, or the paths in
/// ICHSEG_CUDNN_LIBRARY / ICHSEG_CUBLAS_LIBRARY), so binaries run where only the driver exists. These say whether
/// loading worked, and why not.
bool cudnn_available(std::string* why = nullptr);
bool cublas_available(std::string* why = nullptr);

/// Bytes of CUDA tensor and workspace memory handed out by the pool now and at the peak since the last reset.
struct PoolStats {
    int64_t in_use = 0;
    int64_t peak = 0;
    int64_t allocations = 0;  ///< calls to cudaMallocAsync since start-up
};
PoolStats pool_stats();
void reset_pool_peak();

/// Elapsed GPU time between start() and stop() on the ichseg stream, measured with CUDA events (benchmarks).
class GpuTimer {
public:
    GpuTimer();
    ~GpuTimer();
    GpuTimer(const GpuTimer&) = delete;
    GpuTimer& operator=(const GpuTimer&) = delete;
    void start();
    /// Records the stop event, waits for it and returns the milliseconds since start().
    double stop_ms();

private:
    void* start_ = nullptr;
    void* stop_ = nullptr;
};

/// Install the pool, copy and memset hooks into ichseg::cuda_hooks() (idempotent; called lazily by the allocator).
void register_backend();

}  // namespace ichseg::cuda
