/// @file cudnn_backend.cu
/// @brief cuDNN 9 (legacy convolution and batch-norm API, NCHW float) behind dlopen. Algorithms come from
/// cudnnFind* (measured once per shape, precision and role, then cached), as PyTorch does with
/// torch.backends.cudnn.benchmark = True. Math: FP32 -> CUDNN_FMA_MATH (no tensor cores), TF32 ->
/// CUDNN_TENSOR_OP_MATH on float data. BF16 is not offered by this backend: it runs TF32 and says so once.
#include <cudnn.h>

#include <cstdio>
#include <map>
#include <tuple>

#include "common.cuh"
#include "cudnn_backend.cuh"
#include "dynlib.cuh"
#include "ichseg/cuda/conv_transpose2d.hpp"

namespace ichseg::cuda {

bool cudnn_available(std::string* why);

namespace cudnn {
namespace {

#define ICHSEG_CUDNN_FUNCS(X)                                                                                   \
    X(cudnnCreate) X(cudnnSetStream) X(cudnnGetErrorString) X(cudnnGetVersion) X(cudnnCreateTensorDescriptor)  \
    X(cudnnSetTensor4dDescriptor) X(cudnnDestroyTensorDescriptor) X(cudnnCreateFilterDescriptor)               \
    X(cudnnSetFilter4dDescriptor) X(cudnnDestroyFilterDescriptor) X(cudnnCreateConvolutionDescriptor)          \
    X(cudnnSetConvolution2dDescriptor) X(cudnnSetConvolutionMathType) X(cudnnDestroyConvolutionDescriptor)     \
    X(cudnnFindConvolutionForwardAlgorithm) X(cudnnFindConvolutionBackwardDataAlgorithm)                       \
    X(cudnnFindConvolutionBackwardFilterAlgorithm) X(cudnnGetConvolutionForwardWorkspaceSize)                  \
    X(cudnnGetConvolutionBackwardDataWorkspaceSize) X(cudnnGetConvolutionBackwardFilterWorkspaceSize)          \
    X(cudnnConvolutionForward) X(cudnnConvolutionBackwardData) X(cudnnConvolutionBackwardFilter)               \
    X(cudnnBatchNormalizationForwardTraining) X(cudnnBatchNormalizationForwardInference)                       \
    X(cudnnBatchNormalizationBackward)

struct Api {
#define ICHSEG_DECL(f) decltype(&::f) f = nullptr;
    ICHSEG_CUDNN_FUNCS(ICHSEG_DECL)
#undef ICHSEG_DECL
};

detail::DynLib& lib() {
    static detail::DynLib l;
    return l;
}

const Api& api() {
    static const Api a = [] {
        ICHSEG_CHECK(lib().open("ICHSEG_CUDNN_LIBRARY", {"libcudnn.so.9", "libcudnn.so"}),
                     "cuDNN backend requested but cuDNN is not available: ", lib().why());
        Api r;
#define ICHSEG_LOAD(f) r.f = lib().symbol<decltype(&::f)>(#f);
        ICHSEG_CUDNN_FUNCS(ICHSEG_LOAD)
#undef ICHSEG_LOAD
        return r;
    }();
    return a;
}

void check(cudnnStatus_t s, const char* what) {
    if (s != CUDNN_STATUS_SUCCESS) fail("cuDNN error in ", what, ": ", api().cudnnGetErrorString(s));
}
#define ICHSEG_CUDNN(call) check(api().call, #call)

cudnnHandle_t handle() {
    thread_local cudnnHandle_t h[64] = {};
    int dev = 0;
    ICHSEG_CUDA_CHECK(cudaGetDevice(&dev));
    if (!h[dev]) check(api().cudnnCreate(&h[dev]), "cudnnCreate");
    check(api().cudnnSetStream(h[dev], detail::stream()), "cudnnSetStream");
    return h[dev];
}

struct TensorDesc {
    cudnnTensorDescriptor_t d = nullptr;
    TensorDesc(int64_t n, int64_t c, int64_t h, int64_t w) {
        ICHSEG_CUDNN(cudnnCreateTensorDescriptor(&d));
        ICHSEG_CUDNN(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(n),
                                                static_cast<int>(c), static_cast<int>(h), static_cast<int>(w)));
    }
    ~TensorDesc() { api().cudnnDestroyTensorDescriptor(d); }
};
struct FilterDesc {
    cudnnFilterDescriptor_t d = nullptr;
    FilterDesc(int64_t k, int64_t c, int64_t r, int64_t s) {
        ICHSEG_CUDNN(cudnnCreateFilterDescriptor(&d));
        ICHSEG_CUDNN(cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, static_cast<int>(k),
                                                static_cast<int>(c), static_cast<int>(r), static_cast<int>(s)));
    }
    ~FilterDesc() { api().cudnnDestroyFilterDescriptor(d); }
};
struct ConvDesc {
    cudnnConvolutionDescriptor_t d = nullptr;
    ConvDesc(const Conv2dGeometry& g, cudnnMathType_t math) {
        ICHSEG_CUDNN(cudnnCreateConvolutionDescriptor(&d));
        ICHSEG_CUDNN(cudnnSetConvolution2dDescriptor(d, static_cast<int>(g.pad_h), static_cast<int>(g.pad_w),
                                                     static_cast<int>(g.stride_h), static_cast<int>(g.stride_w), 1, 1,
                                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        ICHSEG_CUDNN(cudnnSetConvolutionMathType(d, math));
    }
    ~ConvDesc() { api().cudnnDestroyConvolutionDescriptor(d); }
};

cudnnMathType_t math_for(Precision p) {
    if (p == Precision::BF16) {
        static bool warned = false;
        if (!warned) {
            std::fprintf(stderr, "ichseg: the cuDNN backend runs BF16 requests with TF32 tensor-core math (float "
                                 "tensors); use the ichseg backend for BF16 convolutions\n");
            warned = true;
        }
    }
    return p == Precision::FP32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int>;
struct Choice {
    int algo;
    cudnnMathType_t math;
};
std::map<Key, Choice>& cache() {
    static std::map<Key, Choice> c;
    return c;
}
Key key(int role, const Conv2dGeometry& g, Precision p) {
    return Key{role, g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.stride_h, g.stride_w, g.pad_h, g.pad_w, static_cast<int>(p)};
}
/// The fastest successful result that respects the math mode (FMA only in FP32).
template <class Perf>
Choice pick(const Perf* perf, int n, Precision p, const char* what) {
    for (int i = 0; i < n; ++i) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        if (p == Precision::FP32 && perf[i].mathType == CUDNN_TENSOR_OP_MATH) continue;
        return {static_cast<int>(perf[i].algo), perf[i].mathType};
    }
    fail("cuDNN found no usable ", what, " algorithm for this convolution");
}

}  // namespace

void require() { api(); }

void conv2d_fprop(const Conv2dGeometry& g, const float* x, const float* w, const float* b, float* y, Precision prec) {
    cudnnHandle_t h = handle();
    TensorDesc xd(g.N, g.C, g.H, g.W), yd(g.N, g.K, g.P, g.Q);
    FilterDesc wd(g.K, g.C, g.R, g.S);
    ConvDesc cd(g, math_for(prec));
    auto it = cache().find(key(0, g, prec));
    if (it == cache().end()) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int n = 0;
        ICHSEG_CUDNN(cudnnFindConvolutionForwardAlgorithm(h, xd.d, wd.d, cd.d, yd.d, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                          &n, perf));
        it = cache().emplace(key(0, g, prec), pick(perf, n, prec, "forward")).first;
    }
    ICHSEG_CUDNN(cudnnSetConvolutionMathType(cd.d, it->second.math));
    const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(it->second.algo);
    std::size_t ws = 0;
    ICHSEG_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(h, xd.d, wd.d, cd.d, yd.d, algo, &ws));
    detail::Workspace<unsigned char> work(ws);
    const float one = 1.f, zero = 0.f;
    ICHSEG_CUDNN(cudnnConvolutionForward(h, &one, xd.d, x, wd.d, w, cd.d, algo, work.ptr, ws, &zero, yd.d, y));
    if (b) launch::add_channel_bias(g.N, g.K, g.P * g.Q, b, y);
}

void conv2d_dgrad(const Conv2dGeometry& g, const float* dy, const float* w, float* dx, Precision prec) {
    cudnnHandle_t h = handle();
    TensorDesc dxd(g.N, g.C, g.H, g.W), dyd(g.N, g.K, g.P, g.Q);
    FilterDesc wd(g.K, g.C, g.R, g.S);
    ConvDesc cd(g, math_for(prec));
    auto it = cache().find(key(1, g, prec));
    if (it == cache().end()) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        int n = 0;
        ICHSEG_CUDNN(cudnnFindConvolutionBackwardDataAlgorithm(h, wd.d, dyd.d, cd.d, dxd.d,
                                                               CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf));
        it = cache().emplace(key(1, g, prec), pick(perf, n, prec, "backward-data")).first;
    }
    ICHSEG_CUDNN(cudnnSetConvolutionMathType(cd.d, it->second.math));
    const auto algo = static_cast<cudnnConvolutionBwdDataAlgo_t>(it->second.algo);
    std::size_t ws = 0;
    ICHSEG_CUDNN(cudnnGetConvolutionBackwardDataWorkspaceSize(h, wd.d, dyd.d, cd.d, dxd.d, algo, &ws));
    detail::Workspace<unsigned char> work(ws);
    const float one = 1.f, zero = 0.f;
    ICHSEG_CUDNN(cudnnConvolutionBackwardData(h, &one, wd.d, w, dyd.d, dy, cd.d, algo, work.ptr, ws, &zero, dxd.d, dx));
}

void conv2d_wgrad(const Conv2dGeometry& g, const float* dy, const float* x, float* dw, float* db, Precision prec) {
    cudnnHandle_t h = handle();
    TensorDesc xd(g.N, g.C, g.H, g.W), dyd(g.N, g.K, g.P, g.Q);
    FilterDesc dwd(g.K, g.C, g.R, g.S);
    ConvDesc cd(g, math_for(prec));
    auto it = cache().find(key(2, g, prec));
    if (it == cache().end()) {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        int n = 0;
        ICHSEG_CUDNN(cudnnFindConvolutionBackwardFilterAlgorithm(h, xd.d, dyd.d, cd.d, dwd.d,
                                                                 CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf));
        it = cache().emplace(key(2, g, prec), pick(perf, n, prec, "backward-filter")).first;
    }
    ICHSEG_CUDNN(cudnnSetConvolutionMathType(cd.d, it->second.math));
    const auto algo = static_cast<cudnnConvolutionBwdFilterAlgo_t>(it->second.algo);
    std::size_t ws = 0;
    ICHSEG_CUDNN(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, xd.d, dyd.d, cd.d, dwd.d, algo, &ws));
    detail::Workspace<unsigned char> work(ws);
    const float one = 1.f, zero = 0.f;
    ICHSEG_CUDNN(cudnnConvolutionBackwardFilter(h, &one, xd.d, x, dyd.d, dy, cd.d, algo, work.ptr, ws, &zero, dwd.d,
                                                dw));
    if (db) launch::channel_sum(g.N, g.K, g.P * g.Q, dy, db);
}

namespace {
/// gamma / beta default to 1 / 0 when null (cuDNN needs both).
struct Affine {
    detail::Workspace<float> buf;
    const float* gamma;
    const float* beta;
    Affine(int64_t C, const float* g, const float* b) : buf(static_cast<std::size_t>(2 * C)), gamma(g), beta(b) {
        if (g && b) return;
        std::vector<float> host(static_cast<std::size_t>(2 * C), 0.f);
        for (int64_t c = 0; c < C; ++c) host[c] = 1.f;
        ICHSEG_CUDA_CHECK(cudaMemcpyAsync(buf.ptr, host.data(), sizeof(float) * 2 * C, cudaMemcpyHostToDevice,
                                          detail::stream()));
        ICHSEG_CUDA_CHECK(cudaStreamSynchronize(detail::stream()));
        if (!g) gamma = buf.ptr;
        if (!b) beta = buf.ptr + C;
    }
};
}  // namespace

void batchnorm_fwd_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                         double eps, double momentum, float* running_mean, float* running_var, float* y,
                         float* save_mean, float* save_invstd) {
    cudnnHandle_t h = handle();
    TensorDesc xd(N, C, HW, 1), bd(1, C, 1, 1);
    Affine af(C, gamma, beta);
    const float one = 1.f, zero = 0.f;
    ICHSEG_CUDNN(cudnnBatchNormalizationForwardTraining(h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd.d, x, xd.d, y,
                                                        bd.d, af.gamma, af.beta, momentum, running_mean, running_var,
                                                        eps, save_mean, save_invstd));
}

void batchnorm_fwd_infer(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma, const float* beta,
                         double eps, const float* running_mean, const float* running_var, float* y) {
    cudnnHandle_t h = handle();
    TensorDesc xd(N, C, HW, 1), bd(1, C, 1, 1);
    Affine af(C, gamma, beta);
    const float one = 1.f, zero = 0.f;
    ICHSEG_CUDNN(cudnnBatchNormalizationForwardInference(h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd.d, x, xd.d, y,
                                                         bd.d, af.gamma, af.beta, running_mean, running_var, eps));
}

void batchnorm_bwd(int64_t N, int64_t C, int64_t HW, const float* dy, const float* x, const float* gamma, double eps,
                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta) {
    cudnnHandle_t h = handle();
    TensorDesc xd(N, C, HW, 1), bd(1, C, 1, 1);
    Affine af(C, gamma, nullptr);
    const float one = 1.f, zero = 0.f;
    ICHSEG_CUDNN(cudnnBatchNormalizationBackward(h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, xd.d, x, xd.d,
                                                 dy, xd.d, dx, bd.d, af.gamma, dgamma, dbeta, eps, save_mean,
                                                 save_invstd));
}

}  // namespace cudnn

bool cudnn_available(std::string* why) {
    const bool ok = cudnn::lib().open("ICHSEG_CUDNN_LIBRARY", {"libcudnn.so.9", "libcudnn.so"});
    if (!ok && why) *why = cudnn::lib().why();
    return ok;
}

}  // namespace ichseg::cuda
