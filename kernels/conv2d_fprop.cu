/// @file conv2d_fprop.cu
/// @brief conv2d fprop: the implicit-GEMM kernel instantiated for the three math modes, and its launcher.
#include "conv2d.cuh"
#include "cudnn_backend.cuh"

namespace ichseg::cuda {
namespace kern::conv {
template <>
void run_implicit_gemm<Role::Fprop>(const Conv2dGeometry& g, const float* a_src, const float* b_src, const float* bias,
                                    float* out, Precision prec) {
    Args a = make_args(g, Role::Fprop);
    a.a_src = a_src, a.b_src = b_src, a.bias = bias, a.out = out;
    switch (math_for(prec)) {
        case Math::Simt: launch_implicit_gemm<Role::Fprop, Math::Simt>(a, 1); break;
        case Math::TF32: launch_implicit_gemm<Role::Fprop, Math::TF32>(a, 1); break;
        case Math::BF16: launch_implicit_gemm<Role::Fprop, Math::BF16>(a, 1); break;
    }
}
}  // namespace kern::conv

namespace launch {
void conv2d_fprop(const Conv2dGeometry& g, const float* x, const float* w, const float* b, float* y, Precision prec,
                  ConvBackend backend) {
    if (g.N == 0 || g.K == 0 || g.P * g.Q == 0) return;
    if (backend == ConvBackend::Cudnn) return cudnn::conv2d_fprop(g, x, w, b, y, prec);
    kern::conv::run_implicit_gemm<kern::Role::Fprop>(g, w, x, b, y, prec);
}
}  // namespace launch
}  // namespace ichseg::cuda
