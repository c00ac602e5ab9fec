/// @file conv2d_dgrad.cu
/// @brief conv2d dgrad (and so conv_transpose2d forward): the implicit-GEMM kernel for the three math modes.
#include "conv2d.cuh"
#include "cudnn_backend.cuh"

namespace ichseg::cuda {
namespace kern::conv {
template <>
void run_implicit_gemm<Role::Dgrad>(const Conv2dGeometry& g, const float* a_src, const float* b_src, const float*,
                                    float* out, Precision prec) {
    Args a = make_args(g, Role::Dgrad);
    a.a_src = a_src, a.b_src = b_src, a.bias = nullptr, a.out = out;
    switch (math_for(prec)) {
        case Math::Simt: launch_implicit_gemm<Role::Dgrad, Math::Simt>(a, 1); break;
        case Math::TF32: launch_implicit_gemm<Role::Dgrad, Math::TF32>(a, 1); break;
        case Math::BF16: launch_implicit_gemm<Role::Dgrad, Math::BF16>(a, 1); break;
    }
}
}  // namespace kern::conv

namespace launch {
void conv2d_dgrad(const Conv2dGeometry& g, const float* dy, const float* w, float* dx, Precision prec, ConvBackend backend) {
    if (g.N * g.C * g.H * g.W == 0) return;
    if (g.K == 0) {
        ICHSEG_CUDA_CHECK(cudaMemsetAsync(dx, 0, sizeof(float) * g.N * g.C * g.H * g.W, detail::stream()));
        return;
    }
    if (backend == ConvBackend::Cudnn) return cudnn::conv2d_dgrad(g, dy, w, dx, prec);
    kern::conv::run_implicit_gemm<kern::Role::Dgrad>(g, w, dy, nullptr, dx, prec);
}
}  // namespace launch
}  // namespace ichseg::cuda
