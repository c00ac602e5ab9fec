/// @file conv_transpose2d.hpp
/// @brief Transposed 2-D convolution (torch.nn.functional.conv_transpose2d), NCHW, groups = 1.
///
/// Weight layout is PyTorch's (Cin, Cout, R, S). The op is built from the three convolution roles
/// (CUTLASS's "deconv" view): with the weight read as a conv weight of K = Cin outputs and C = Cout inputs,
///   conv_transpose2d_fprop(x)   = conv2d_dgrad(dy := x)              -> (N, Cout, Hout, Wout)
///   conv_transpose2d_dgrad(dy)  = conv2d_fprop(x := dy)              -> (N, Cin, H, W)
///   conv_transpose2d_wgrad      = conv2d_wgrad(dy := x, x := dy)     -> (Cin, Cout, R, S)
/// Hout = (H - 1) * stride - 2 * pad + R + output_padding. The U-Net uses R = S = stride = 2, pad 0; on the CPU
/// that case runs as pixel-wise products instead (cpu/conv_transpose2d.hpp), the same result up to rounding.
/// The roles dispatch through conv2d's entry points; the bias and its gradient are this op's own kernels
/// (cpu/conv_transpose2d.hpp, cuda/conv_transpose2d.hpp). conv_transpose2d(Var...): the tape node, whose backward
/// is conv_transpose2d_dgrad and conv_transpose2d_wgrad.
#pragma once

#include "ichseg/core/precision.hpp"
#include "ichseg/cpu/conv_transpose2d.hpp"
#include "ichseg/cpu/conv_transpose2d_bf16.hpp"
#include "ichseg/ops/conv2d.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/conv_transpose2d.hpp"
#endif

namespace ichseg {

struct ConvTranspose2dParams {
    int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, output_pad_h = 0, output_pad_w = 0;
    Conv2dParams as_conv() const { return {stride_h, stride_w, pad_h, pad_w, ConvAlgorithm::Im2colGemm}; }
};

namespace detail {
/// The U-Net's case, 2x2 kernel, stride 2, no padding, on the CPU: cpu::convt2x2 runs it.
inline bool convt2x2_applies(Device dev, const Shape& w, const ConvTranspose2dParams& p) {
    return dev.is_cpu() && w.size() == 4 && w[2] == 2 && w[3] == 2 && p.stride_h == 2 && p.stride_w == 2 &&
           p.pad_h == 0 && p.pad_w == 0 && p.output_pad_h == 0 && p.output_pad_w == 0;
}
/// Whether the 2x2 case runs with BF16 products (cpu/conv_transpose2d_bf16.hpp): float, precision() BF16 and a
/// build with BF16 product instructions (AMX or AVX512_BF16: both beat the FP32 GEMM on these shapes).
template <class T>
bool convt2x2_bf16() {
    return std::is_same_v<T, float> && precision() == Precision::BF16 && cpu::bf16_available();
}
}  // namespace detail

/// Output shape; validates the arguments and names the op in errors.
inline Shape conv_transpose2d_output_shape(const char* op, const Shape& x, const Shape& w,
                                           const ConvTranspose2dParams& p) {
    ICHSEG_CHECK(x.size() == 4, op, ": input must be (N,Cin,H,W), got ", to_string(x));
    ICHSEG_CHECK(w.size() == 4, op, ": weight must be (Cin,Cout,R,S), got ", to_string(w));
    ICHSEG_CHECK(x[1] == w[0], op, ": input has ", x[1], " channels but weight ", to_string(w), " expects ", w[0],
                 " (input ", to_string(x), ")");
    ICHSEG_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0 && p.output_pad_h >= 0 &&
                     p.output_pad_w >= 0 && p.output_pad_h < p.stride_h && p.output_pad_w < p.stride_w,
                 op, ": invalid stride, padding or output padding");
    const int64_t H = (x[2] - 1) * p.stride_h - 2 * p.pad_h + w[2] + p.output_pad_h;
    const int64_t W = (x[3] - 1) * p.stride_w - 2 * p.pad_w + w[3] + p.output_pad_w;
    ICHSEG_CHECK(H > 0 && W > 0, op, ": empty output for input ", to_string(x), " and weight ", to_string(w));
    return {x[0], w[1], H, W};
}

template <class T>
Tensor<T> conv_transpose2d_fprop(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b,
                                 const ConvTranspose2dParams& p) {
    detail::static_check_float<T>();
    const char* op = "conv_transpose2d_fprop";
    detail::check_rank(op, "input", x, 4);
    detail::check_rank(op, "weight", w, 4);
    const Shape ys = conv_transpose2d_output_shape(op, x.shape(), w.shape(), p);
    if (b.defined())
        ICHSEG_CHECK(b.dim() == 1 && b.size(0) == ys[1], op, ": bias must be (", ys[1], "), got ", describe(b));
    const Device dev = detail::op_device(op, {&x, &w, &b});
    if (detail::convt2x2_applies(dev, w.shape(), p)) {
        const Tensor<T> xc = x.contiguous(), wc = w.contiguous(), bc = b.defined() ? b.contiguous() : Tensor<T>();
        Tensor<T> y = Tensor<T>::empty(ys);
#if ICHSEG_CPU_BF16
        if constexpr (std::is_same_v<T, float>)
            if (detail::convt2x2_bf16<T>()) {
                cpu::convt2x2_bf16::fprop({ys[0], w.size(0), ys[1], x.size(2), x.size(3)}, xc.data(), wc.data(),
                                          bc.defined() ? bc.data() : nullptr, y.data());
                return y;
            }
#endif
        cpu::convt2x2::fprop<T>({ys[0], w.size(0), ys[1], x.size(2), x.size(3)}, xc.data(), wc.data(),
                                bc.defined() ? bc.data() : nullptr, y.data());
        return y;
    }
    Tensor<T> y = conv2d_dgrad(x, w, ys, p.as_conv());  // asks the backend's supports() for the geometry
    if (!b.defined()) return y;
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        cuda::add_channel_bias_(y, b);
        return y;
    }
#endif
    const Tensor<T> bc = detail::cpu_input(op, b);
    cpu::add_channel_bias(ys[0], ys[1], ys[2] * ys[3], bc.data(), y.data());
    return y;
}

template <class T>
Tensor<T> conv_transpose2d_dgrad(const Tensor<T>& dy, const Tensor<T>& w, const ConvTranspose2dParams& p) {
    detail::static_check_float<T>();
    const char* op = "conv_transpose2d_dgrad";
    const Device dev = detail::op_device(op, {&dy, &w});
    if (dy.dim() == 4 && w.dim() == 4 && dy.size(1) == w.size(1) && dy.size(2) % 2 == 0 && dy.size(3) % 2 == 0 &&
        detail::convt2x2_applies(dev, w.shape(), p)) {
        const Tensor<T> dyc = dy.contiguous(), wc = w.contiguous();
        Tensor<T> dx = Tensor<T>::empty({dy.size(0), w.size(0), dy.size(2) / 2, dy.size(3) / 2});
#if ICHSEG_CPU_BF16
        if constexpr (std::is_same_v<T, float>)
            if (detail::convt2x2_bf16<T>()) {
                cpu::convt2x2_bf16::dgrad({dy.size(0), w.size(0), w.size(1), dy.size(2) / 2, dy.size(3) / 2},
                                          dyc.data(), wc.data(), dx.data());
                return dx;
            }
#endif
        cpu::convt2x2::dgrad<T>({dy.size(0), w.size(0), w.size(1), dy.size(2) / 2, dy.size(3) / 2}, dyc.data(),
                                wc.data(), dx.data());
        return dx;
    }
    return conv2d_fprop(dy, w, Tensor<T>(), p.as_conv());
}

/// Returns {dw, db}; db (sum of dy over N, H, W) is undefined when with_bias is false.
template <class T>
std::pair<Tensor<T>, Tensor<T>> conv_transpose2d_wgrad(const Tensor<T>& dy, const Tensor<T>& x, const Shape& w_shape,
                                                       const ConvTranspose2dParams& p, bool with_bias) {
    detail::static_check_float<T>();
    const char* op = "conv_transpose2d_wgrad";
    const Device dev = detail::op_device(op, {&dy, &x});
    Tensor<T> dw;
    if (dy.dim() == 4 && x.dim() == 4 && w_shape.size() == 4 && x.size(1) == w_shape[0] && dy.size(1) == w_shape[1] &&
        dy.size(0) == x.size(0) && dy.size(2) == 2 * x.size(2) && dy.size(3) == 2 * x.size(3) &&
        detail::convt2x2_applies(dev, w_shape, p)) {
        const Tensor<T> dyc = dy.contiguous(), xc = x.contiguous();
        dw = Tensor<T>::empty(w_shape);
        const cpu::convt2x2::Geometry cg{x.size(0), x.size(1), dy.size(1), x.size(2), x.size(3)};
        bool done = false;
#if ICHSEG_CPU_BF16
        if constexpr (std::is_same_v<T, float>) {
            if (detail::convt2x2_bf16<T>()) {
                cpu::convt2x2_bf16::wgrad(cg, dyc.data(), xc.data(), dw.data());
                done = true;
            }
        }
#endif
        if (!done) cpu::convt2x2::wgrad<T>(cg, dyc.data(), xc.data(), dw.data());
    } else {
        dw = conv2d_wgrad(x, dy, w_shape, p.as_conv(), false).first;
    }
    Tensor<T> db;
    if (!with_bias) return {dw, db};
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) return {dw, cuda::channel_sum(dy)};
#endif
    const Tensor<T> g = detail::cpu_input(op, dy);
    db = Tensor<T>::empty({g.size(1)});
    cpu::channel_sum(g.size(0), g.size(1), g.size(2) * g.size(3), g.data(), db.data());
    return {dw, db};
}

template <class T>
Var<T> conv_transpose2d(const Var<T>& x, const Var<T>& w, const Var<T>& b, const ConvTranspose2dParams& p = {}) {
    const Tensor<T> bv = b.defined() ? b.value() : Tensor<T>();
    Tensor<T> y = conv_transpose2d_fprop(x.value(), w.value(), bv, p);
    const bool keep_x = w.requires_grad() || b.requires_grad(), keep_w = x.requires_grad();
    Tensor<T> xs = keep_x ? x.value() : Tensor<T>(), ws = keep_w ? w.value() : Tensor<T>();
    const Shape wshape = w.shape();
    const bool has_b = b.defined();
    return record<T>("conv_transpose2d", std::move(y), {&x, &w, &b}, [xs, ws, wshape, p, has_b](const Tensor<T>& gy) {
        std::vector<Tensor<T>> g(3);
        if (ws.defined()) g[0] = conv_transpose2d_dgrad(gy, ws, p);
        if (xs.defined()) {
            auto [dw, db] = conv_transpose2d_wgrad(gy, xs, wshape, p, has_b);
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
ICHSEG_EXTERN_TEMPLATE template Tensor<float> conv_transpose2d_fprop<float>(const Tensor<float>&, const Tensor<float>&,
                                                                            const Tensor<float>&,
                                                                            const ConvTranspose2dParams&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> conv_transpose2d_dgrad<float>(const Tensor<float>&, const Tensor<float>&,
                                                                            const ConvTranspose2dParams&);
ICHSEG_EXTERN_TEMPLATE template std::pair<Tensor<float>, Tensor<float>> conv_transpose2d_wgrad<float>(
    const Tensor<float>&, const Tensor<float>&, const Shape&, const ConvTranspose2dParams&, bool);
ICHSEG_EXTERN_TEMPLATE template Var<float> conv_transpose2d<float>(const Var<float>&, const Var<float>&,
                                                                   const Var<float>&, const ConvTranspose2dParams&);
}  // namespace ichseg
#endif
