/// @file linear.hpp
/// @brief Fully connected layer (torch.nn.functional.linear): y = x W^T + b.
/// Shapes: x (N, in), W (out, in), b (out) or undefined, y (N, out).
/// Backward: dx = dy W, dW = dy^T x, db = sum over N of dy.
///   linear_fwd(x, w, b) -> y;  linear_dgrad(dy, w) -> dx;  linear_wgrad(dy, x, with_bias) -> {dW, db}
///   (tensor-level, either device);  linear(Var...): the tape node.
/// Kernels: cpu/linear.hpp, cuda/linear.hpp (kernels/linear.cu).
#pragma once

#include <utility>

#include "ichseg/cpu/linear.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/params/linear.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/linear.hpp"
#endif

namespace ichseg {

/// Validates x (N, in) and W (out, in); the sizes both backends take.
inline LinearGeometry linear_geometry(const char* op, const Shape& x, const Shape& w) {
    ICHSEG_CHECK(x.size() == 2, op, ": input must be (N, in), got ", to_string(x));
    ICHSEG_CHECK(w.size() == 2, op, ": weight must be (out, in), got ", to_string(w));
    ICHSEG_CHECK(w[1] == x[1], op, ": input ", to_string(x), " has ", x[1], " features but weight ", to_string(w),
                 " expects ", w[1]);
    return {x[0], x[1], w[0]};
}

template <class T>
Tensor<T> linear_fwd(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
    detail::static_check_float<T>();
    const char* op = "linear_fwd";
    detail::check_rank(op, "input", x, 2);
    detail::check_rank(op, "weight", w, 2);
    const LinearGeometry g = linear_geometry(op, x.shape(), w.shape());
    if (b.defined())
        ICHSEG_CHECK(b.dim() == 1 && b.size(0) == g.out, op, ": bias must be (", g.out, "), got ", describe(b));
    const Device dev = detail::op_device(op, {&x, &w, &b});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g))) return cuda::linear_fwd(g, x, w, b);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x), wc = detail::cpu_input(op, w), bc = detail::cpu_input(op, b);
    Tensor<T> y = Tensor<T>::empty({g.N, g.out});
    cpu::linear_fwd(g, xc.data(), wc.data(), bc.defined() ? bc.data() : nullptr, y.data());
    return y;
}

/// dx (N, in) = dy (N, out) W.
template <class T>
Tensor<T> linear_dgrad(const Tensor<T>& dy, const Tensor<T>& w) {
    detail::static_check_float<T>();
    const char* op = "linear_dgrad";
    detail::check_rank(op, "dy", dy, 2);
    detail::check_rank(op, "weight", w, 2);
    ICHSEG_CHECK(dy.size(1) == w.size(0), op, ": dy ", describe(dy), " does not match weight ", describe(w));
    const LinearGeometry g{dy.size(0), w.size(1), w.size(0)};
    const Device dev = detail::op_device(op, {&dy, &w});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g))) return cuda::linear_dgrad(g, dy, w);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> dyc = detail::cpu_input(op, dy), wc = detail::cpu_input(op, w);
    Tensor<T> dx = Tensor<T>::empty({g.N, g.in});
    cpu::linear_dgrad(g, dyc.data(), wc.data(), dx.data());
    return dx;
}

/// {dW (out, in) = dy^T x, db (out) = sum over N of dy}; db undefined when with_bias is false.
template <class T>
std::pair<Tensor<T>, Tensor<T>> linear_wgrad(const Tensor<T>& dy, const Tensor<T>& x, bool with_bias) {
    detail::static_check_float<T>();
    const char* op = "linear_wgrad";
    detail::check_rank(op, "dy", dy, 2);
    detail::check_rank(op, "input", x, 2);
    ICHSEG_CHECK(dy.size(0) == x.size(0), op, ": dy ", describe(dy), " and input ", describe(x),
                 " differ in batch size");
    const LinearGeometry g{x.size(0), x.size(1), dy.size(1)};
    const Device dev = detail::op_device(op, {&dy, &x});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return cuda::linear_wgrad(g, dy, x, with_bias);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> dyc = detail::cpu_input(op, dy), xc = detail::cpu_input(op, x);
    Tensor<T> dw = Tensor<T>::empty({g.out, g.in}), db;
    if (with_bias) db = Tensor<T>::empty({g.out});
    cpu::linear_wgrad(g, dyc.data(), xc.data(), dw.data(), with_bias ? db.data() : nullptr);
    return {dw, db};
}

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b) {
    const Tensor<T> bv = b.defined() ? b.value() : Tensor<T>();
    Tensor<T> y = linear_fwd(x.value(), w.value(), bv);
    // x is needed for the weight/bias gradients, W for the input gradient.
    const bool keep_x = w.requires_grad() || b.requires_grad(), keep_w = x.requires_grad();
    Tensor<T> xs = keep_x ? x.value() : Tensor<T>(), ws = keep_w ? w.value() : Tensor<T>();
    const bool has_b = b.defined();
    return record<T>("linear", y, {&x, &w, &b}, [xs, ws, has_b](const Tensor<T>& gy) {
        std::vector<Tensor<T>> g(3);
        if (ws.defined()) g[0] = linear_dgrad(gy, ws);
        if (xs.defined()) {
            auto [dw, db] = linear_wgrad(gy, xs, has_b);
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
ICHSEG_EXTERN_TEMPLATE template Tensor<float> linear_fwd<float>(const Tensor<float>&, const Tensor<float>&,
                                                                const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> linear_dgrad<float>(const Tensor<float>&, const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template std::pair<Tensor<float>, Tensor<float>> linear_wgrad<float>(const Tensor<float>&,
                                                                                            const Tensor<float>&, bool);
ICHSEG_EXTERN_TEMPLATE template Var<float> linear<float>(const Var<float>&, const Var<float>&, const Var<float>&);
}  // namespace ichseg
#endif
