/// @file conv2d.hpp
/// @brief 2-D convolution (cross-correlation, like torch.nn.functional.conv2d), NCHW, groups = 1.
///
///   conv2d_fprop: y[n,k,p,q] = b[k] + sum_{c,r,s} w[k,c,r,s] * x[n,c, p*sh - ph + r, q*sw - pw + s]
///   conv2d_dgrad: dx = dL/dx given dy = dL/dy           (the transpose of fprop in x)
///   conv2d_wgrad: dw = dL/dw, db = sum_{n,p,q} dy         (overwritten, not accumulated)
///   conv2d(Var...): the differentiable op on the tape; its backward is dgrad and wgrad.
///   conv2d_bn_fprop_infer: inference only (no tape), fprop followed by batch norm with running statistics and an
///       optional ReLU, y = act(scale[k] * conv(x, w, b)[k] + shift[k]); on the CPU one convolution whose epilogue
///       (params/conv2d.hpp, ConvEpilogue) applies the affine map and the ReLU while the output is written.
/// The three roles are the tensor-level entry points: each validates, then runs on the tensors' device
/// (cpu/conv2d*.hpp or cuda/conv2d.hpp). The sizes both backends take: params/conv2d.hpp.
/// Shapes: x (N,C,H,W), w (K,C,R,S), b (K) or undefined, y (N,K,P,Q) with P = (H + 2ph - R)/sh + 1.
/// Derivatives and the accumulation rule: docs/ops.md.
#pragma once

#include "ichseg/core/precision.hpp"
#include "ichseg/cpu/conv2d.hpp"
#include "ichseg/cpu/conv2d_bf16.hpp"
#include "ichseg/cpu/conv2d_single_channel.hpp"
#include "ichseg/cpu/conv2d_winograd.hpp"
#include "ichseg/ops/batchnorm2d.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/params/conv2d.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/conv2d.hpp"
#endif

namespace ichseg {

/// How the CPU computes a convolution. Auto picks Winograd (F(4x4,3x3) on images of at least 32 x 32, F(2x2,3x3)
/// below) for float 3x3 stride-1 pad-1 convolutions with at least 8 channels each way on images of at least 4 x 4
/// (cpu::winograd::preferred), vectorised loops for those with one input channel (cpu::single_channel; forward
/// and weight gradient), and im2col + GEMM otherwise (always for double).
enum class ConvAlgorithm { Auto, Im2colGemm, Winograd };

struct Conv2dParams {
    int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
    ConvAlgorithm algorithm = ConvAlgorithm::Auto;
    static Conv2dParams same(int64_t kernel) { return {1, 1, kernel / 2, kernel / 2}; }
};

/// The algorithm that `ConvAlgorithm::Auto` stands for, process-wide (default Auto: Winograd where it pays).
/// Set Im2colGemm to run every convolution by the direct method, e.g. for the closest agreement with PyTorch.
inline ConvAlgorithm& default_conv_algorithm() {
    static ConvAlgorithm a = ConvAlgorithm::Auto;
    return a;
}
inline void set_default_conv_algorithm(ConvAlgorithm a) { default_conv_algorithm() = a; }

namespace detail {
/// The algorithm a call asked for, with Auto replaced by the process-wide default.
inline ConvAlgorithm requested_algorithm(const Conv2dParams& p) {
    return p.algorithm == ConvAlgorithm::Auto ? default_conv_algorithm() : p.algorithm;
}

/// Whether the CPU should run this convolution by Winograd; throws if Winograd was forced but does not apply.
template <class T>
bool use_winograd(const Conv2dGeometry& g, const Conv2dParams& p) {
    const bool ok = std::is_same_v<T, float> && cpu::winograd::applicable(g);
    const ConvAlgorithm a = requested_algorithm(p);
    if (a == ConvAlgorithm::Winograd && p.algorithm == ConvAlgorithm::Winograd)
        ICHSEG_CHECK(ok, "conv2d: Winograd requested but it needs float, a 3x3 kernel, stride 1 and padding 1");
    if (a == ConvAlgorithm::Winograd) return ok;
    return a == ConvAlgorithm::Auto && ok && cpu::winograd::preferred(g);
}
/// Whether this float convolution runs with BF16 products (cpu/conv2d_bf16.hpp): precision() is BF16, the
/// algorithm is Auto, and cpu::conv_bf16::chosen() says the direct BF16 kernels pay for this geometry.
inline bool use_bf16(const Conv2dGeometry& g, const Conv2dParams& p) {
    return precision() == Precision::BF16 && requested_algorithm(p) == ConvAlgorithm::Auto &&
           cpu::conv_bf16::chosen(g, cpu::bf16_kernel());
}
/// Whether Auto runs this float convolution with the single-channel loops (the U-Net's input layer).
inline bool use_single_channel(const Conv2dGeometry& g, const Conv2dParams& p) {
    return requested_algorithm(p) == ConvAlgorithm::Auto && cpu::single_channel::applicable(g);
}

/// The CPU forward of a validated convolution by the algorithm chosen above, then the epilogue `ep` (none: {}).
template <class T>
void conv2d_fprop_cpu(const Conv2dGeometry& g, const Conv2dParams& p, const T* x, const T* w, const T* b, T* y,
                      const ConvEpilogue<T>& ep) {
    if constexpr (std::is_same_v<T, float>) {
#if ICHSEG_CPU_BF16
        if (use_bf16(g, p)) {
            cpu::conv_bf16::conv2d_fprop(g, x, w, b, y, ep);
            return;
        }
#endif
        if (use_winograd<T>(g, p)) {
            cpu::winograd::conv2d_fprop(g, x, w, b, y, ep);
            return;
        }
        if (use_single_channel(g, p)) {
            cpu::single_channel::fprop(g, x, w, b, y, ep);
            return;
        }
    }
    cpu::conv2d_fprop<T>(g, x, w, b, y, ep);
}
}  // namespace detail

/// Validates shapes and returns the geometry; throws naming `op` and the offending shapes.
template <class T>
Conv2dGeometry conv2d_geometry(const char* op, const Shape& x, const Shape& w, const Conv2dParams& p) {
    ICHSEG_CHECK(x.size() == 4, op, ": input must be (N,C,H,W), got ", to_string(x));
    ICHSEG_CHECK(w.size() == 4, op, ": weight must be (K,C,R,S), got ", to_string(w));
    ICHSEG_CHECK(x[1] == w[1], op, ": input has ", x[1], " channels but weight ", to_string(w), " expects ", w[1],
                 " (input ", to_string(x), ")");
    ICHSEG_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0, op, ": invalid stride (",
                 p.stride_h, ",", p.stride_w, ") or padding (", p.pad_h, ",", p.pad_w, ")");
    const int64_t P = (x[2] + 2 * p.pad_h - w[2]) / p.stride_h + 1;
    const int64_t Q = (x[3] + 2 * p.pad_w - w[3]) / p.stride_w + 1;
    ICHSEG_CHECK(x[2] + 2 * p.pad_h >= w[2] && x[3] + 2 * p.pad_w >= w[3] && P > 0 && Q > 0, op, ": kernel ",
                 to_string(w), " larger than padded input ", to_string(x));
    return {x[0], x[1], x[2], x[3], w[0], w[2], w[3], P, Q, p.stride_h, p.stride_w, p.pad_h, p.pad_w};
}

template <class T>
Tensor<T> conv2d_fprop(const Tensor<T>& x_in, const Tensor<T>& w_in, const Tensor<T>& b_in, const Conv2dParams& p) {
    detail::static_check_float<T>();
    const char* op = "conv2d_fprop";
    detail::check_rank(op, "input", x_in, 4);
    detail::check_rank(op, "weight", w_in, 4);
    const Conv2dGeometry g = conv2d_geometry<T>(op, x_in.shape(), w_in.shape(), p);
    if (b_in.defined())
        ICHSEG_CHECK(b_in.dim() == 1 && b_in.size(0) == g.K, op, ": bias must be (", g.K, "), got ", describe(b_in));
    const Device dev = detail::op_device(op, {&x_in, &w_in, &b_in});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return cuda::conv2d_fprop(g, x_in, w_in, b_in);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    Tensor<T> x = detail::cpu_input(op, x_in), w = detail::cpu_input(op, w_in), b = detail::cpu_input(op, b_in);
    Tensor<T> y = Tensor<T>::empty({g.N, g.K, g.P, g.Q});
    detail::conv2d_fprop_cpu<T>(g, p, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(), {});
    return y;
}

/// Inference-only convolution, batch norm with running statistics and (with bn.relu) ReLU, in one call:
///   y = act(scale[k] * c + shift[k]),  c = conv2d_fprop(x, w, b, p),
///   scale = gamma / sqrt(running_var + eps),  shift = beta - running_mean * scale
/// with scale and shift computed per call, in double and rounded once, exactly as batchnorm2d_fwd_infer computes its
/// map (cpu::batchnorm2d_infer_affine): O(K) work, so a change of the weights or statistics is always seen.
/// On the CPU this is one convolution, by the algorithm conv2d_fprop would pick (BF16 direct, Winograd, the
/// single-channel loops or im2col + GEMM), whose epilogue applies the map and the ReLU to each output row as the
/// kernel writes it: no second pass over the activation. c is computed exactly as conv2d_fprop computes it (same
/// kernel, summation order and bias), so the result equals batchnorm2d_fwd_infer(conv2d_fprop(...)).y up to whether
/// c * scale + shift is rounded once (FMA) or twice: at most 4u (|c scale| + |shift|) per element, u the unit
/// roundoff (tests/ops/test_conv2d_bn.cpp; docs/ops.md §2). On CUDA the two ops run one after the other.
/// Shapes: x, w, b as conv2d_fprop; gamma, beta (K) or undefined (1, 0); running_mean, running_var (K), required.
/// No tape node is recorded: nn uses it in evaluation mode under NoGradGuard only (nn/unet.hpp).
template <class T>
Tensor<T> conv2d_bn_fprop_infer(const Tensor<T>& x_in, const Tensor<T>& w_in, const Tensor<T>& b_in,
                                const Tensor<T>& gamma_in, const Tensor<T>& beta_in, const Tensor<T>& running_mean,
                                const Tensor<T>& running_var, const Conv2dParams& p, const BatchNorm2dParams& bn) {
    detail::static_check_float<T>();
    const char* op = "conv2d_bn_fprop_infer";
    detail::check_rank(op, "input", x_in, 4);
    detail::check_rank(op, "weight", w_in, 4);
    const Conv2dGeometry g = conv2d_geometry<T>(op, x_in.shape(), w_in.shape(), p);
    auto check_vec = [&](const char* name, const Tensor<T>& v) {
        if (v.defined())
            ICHSEG_CHECK(v.dim() == 1 && v.size(0) == g.K, op, ": ", name, " must be (", g.K, ") for weight ",
                         to_string(w_in.shape()), ", got ", describe(v));
    };
    check_vec("bias", b_in);
    check_vec("batch-norm weight", gamma_in);
    check_vec("batch-norm bias", beta_in);
    detail::bn_check_running(op, BatchNorm2dGeometry{g.N, g.K, g.P * g.Q}, running_mean, running_var, true);
    const Device dev =
        detail::op_device(op, {&x_in, &w_in, &b_in, &gamma_in, &beta_in, &running_mean, &running_var});
    if (dev.is_cuda())  // no fused kernel on CUDA: the two ops in turn
        return batchnorm2d_fwd_infer(conv2d_fprop(x_in, w_in, b_in, p), gamma_in, beta_in, running_mean, running_var,
                                     bn)
            .y;
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> x = detail::cpu_input(op, x_in), w = detail::cpu_input(op, w_in), b = detail::cpu_input(op, b_in);
    const Tensor<T> gamma = detail::cpu_input(op, gamma_in), beta = detail::cpu_input(op, beta_in);
    Tensor<T> scale = Tensor<T>::empty({g.K}), shift = Tensor<T>::empty({g.K});
    for (int64_t k = 0; k < g.K; ++k)
        cpu::batchnorm2d_infer_affine<T>(k, gamma.defined() ? gamma.data() : nullptr,
                                         beta.defined() ? beta.data() : nullptr, bn.eps, running_mean.data(),
                                         running_var.data(), scale.data()[k], shift.data()[k]);
    Tensor<T> y = Tensor<T>::empty({g.N, g.K, g.P, g.Q});
    detail::conv2d_fprop_cpu<T>(g, p, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(),
                                ConvEpilogue<T>{scale.data(), shift.data(), bn.relu});
    return y;
}

template <class T>
Tensor<T> conv2d_dgrad(const Tensor<T>& dy_in, const Tensor<T>& w_in, const Shape& x_shape, const Conv2dParams& p) {
    detail::static_check_float<T>();
    const char* op = "conv2d_dgrad";
    detail::check_rank(op, "dy", dy_in, 4);
    detail::check_rank(op, "weight", w_in, 4);
    const Conv2dGeometry g = conv2d_geometry<T>(op, x_shape, w_in.shape(), p);
    ICHSEG_CHECK(dy_in.shape() == Shape({g.N, g.K, g.P, g.Q}), op, ": dy ", to_string(dy_in.shape()),
                 " does not match the output shape ", to_string(Shape{g.N, g.K, g.P, g.Q}));
    const Device dev = detail::op_device(op, {&dy_in, &w_in});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return cuda::conv2d_dgrad(g, dy_in, w_in);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    Tensor<T> dy = detail::cpu_input(op, dy_in), w = detail::cpu_input(op, w_in);
    Tensor<T> dx = Tensor<T>::empty(x_shape);
    if constexpr (std::is_same_v<T, float>) {
#if ICHSEG_CPU_BF16
        if (detail::use_bf16(g, p)) {
            cpu::conv_bf16::conv2d_dgrad(g, dy.data(), w.data(), dx.data());
            return dx;
        }
#endif
        if (detail::use_winograd<T>(g, p)) {
            cpu::winograd::conv2d_dgrad(g, dy.data(), w.data(), dx.data());
            return dx;
        }
    }
    cpu::conv2d_dgrad<T>(g, dy.data(), w.data(), dx.data());
    return dx;
}

/// Returns {dw, db}; db is undefined when with_bias is false.
template <class T>
std::pair<Tensor<T>, Tensor<T>> conv2d_wgrad(const Tensor<T>& dy_in, const Tensor<T>& x_in, const Shape& w_shape,
                                             const Conv2dParams& p, bool with_bias) {
    detail::static_check_float<T>();
    const char* op = "conv2d_wgrad";
    detail::check_rank(op, "dy", dy_in, 4);
    detail::check_rank(op, "input", x_in, 4);
    const Conv2dGeometry g = conv2d_geometry<T>(op, x_in.shape(), w_shape, p);
    ICHSEG_CHECK(dy_in.shape() == Shape({g.N, g.K, g.P, g.Q}), op, ": dy ", to_string(dy_in.shape()),
                 " does not match the output shape ", to_string(Shape{g.N, g.K, g.P, g.Q}));
    const Device dev = detail::op_device(op, {&dy_in, &x_in});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return cuda::conv2d_wgrad(g, dy_in, x_in, with_bias);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    Tensor<T> dy = detail::cpu_input(op, dy_in), x = detail::cpu_input(op, x_in);
    Tensor<T> dw = Tensor<T>::empty(w_shape), db;
    if (with_bias) db = Tensor<T>::empty({g.K});
    T* dbp = with_bias ? db.data() : nullptr;
    if constexpr (std::is_same_v<T, float>) {
#if ICHSEG_CPU_BF16
        if (detail::use_bf16(g, p)) {
            cpu::conv_bf16::conv2d_wgrad(g, dy.data(), x.data(), dw.data(), dbp);
            return {dw, db};
        }
#endif
        if (detail::use_winograd<T>(g, p)) {
            cpu::winograd::conv2d_wgrad(g, dy.data(), x.data(), dw.data(), dbp);
            return {dw, db};
        }
        if (detail::use_single_channel(g, p)) {
            cpu::single_channel::wgrad(g, dy.data(), x.data(), dw.data(), dbp);
            return {dw, db};
        }
    }
    cpu::conv2d_wgrad<T>(g, dy.data(), x.data(), dw.data(), dbp);
    return {dw, db};
}

/// Differentiable convolution; `b` may be an undefined Var (no bias).
template <class T>
Var<T> conv2d(const Var<T>& x, const Var<T>& w, const Var<T>& b, const Conv2dParams& p = {}) {
    const Tensor<T> bv = b.defined() ? b.value() : Tensor<T>();
    Tensor<T> y = conv2d_fprop(x.value(), w.value(), bv, p);
    // x is needed for the weight/bias gradients, w for the input gradient.
    const bool keep_x = w.requires_grad() || b.requires_grad(), keep_w = x.requires_grad();
    Tensor<T> xs = keep_x ? x.value() : Tensor<T>(), ws = keep_w ? w.value() : Tensor<T>();
    const Shape xshape = x.shape(), wshape = w.shape();
    const bool has_b = b.defined();
    return record<T>("conv2d", std::move(y), {&x, &w, &b}, [xs, ws, xshape, wshape, p, has_b](const Tensor<T>& gy) {
        std::vector<Tensor<T>> g(3);
        if (ws.defined()) g[0] = conv2d_dgrad(gy, ws, xshape, p);
        if (xs.defined()) {
            auto [dw, db] = conv2d_wgrad(gy, xs, wshape, p, has_b);
            g[1] = dw;
            g[2] = db;
        }
        return g;
    });
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> conv2d_fprop<float>(const Tensor<float>&, const Tensor<float>&,
                                                                  const Tensor<float>&, const Conv2dParams&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> conv2d_dgrad<float>(const Tensor<float>&, const Tensor<float>&,
                                                                  const Shape&, const Conv2dParams&);
ICHSEG_EXTERN_TEMPLATE template std::pair<Tensor<float>, Tensor<float>> conv2d_wgrad<float>(const Tensor<float>&,
                                                                                            const Tensor<float>&,
                                                                                            const Shape&,
                                                                                            const Conv2dParams&, bool);
ICHSEG_EXTERN_TEMPLATE template Var<float> conv2d<float>(const Var<float>&, const Var<float>&, const Var<float>&,
                                                         const Conv2dParams&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> conv2d_bn_fprop_infer<float>(
    const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&,
    const Tensor<float>&, const Tensor<float>&, const Conv2dParams&, const BatchNorm2dParams&);
}  // namespace ichseg
#endif
