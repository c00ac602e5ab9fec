/// @file conv2d.hpp (cuda)
/// @brief CUDA convolution: launcher declarations (defined in kernels/conv2d_{fprop,dgrad,wgrad}.cu) and the
/// tensor-level entry points that ops/conv2d.hpp and ops/conv_transpose2d.hpp dispatch to for CUDA tensors.
///
/// Same contracts as the CPU ops (NCHW, groups 1): fprop y = conv(x, w) + b; dgrad dx overwritten; wgrad dw and
/// db overwritten. The backend (ichseg implicit GEMM or cuDNN) and the precision are the global settings of
/// cuda/runtime.hpp, read at launch. Only float tensors: double on CUDA throws.
#pragma once

#include <type_traits>
#include <utility>

#include "ichseg/core/tensor.hpp"
#include "ichseg/cuda/runtime.hpp"

namespace ichseg::cuda {

/// Sizes of one convolution: x (N,C,H,W), w (K,C,R,S), y (N,K,P,Q), stride (sh,sw), padding (ph,pw).
struct ConvShape {
    int64_t N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;
};

namespace launch {
void conv2d_fprop(const ConvShape& g, const float* x, const float* w, const float* b, float* y, Precision prec,
                  ConvBackend backend);
void conv2d_dgrad(const ConvShape& g, const float* dy, const float* w, float* dx, Precision prec, ConvBackend backend);
/// db may be null. Split-K partial sums are reduced in a fixed order: the result is deterministic.
void conv2d_wgrad(const ConvShape& g, const float* dy, const float* x, float* dw, float* db, Precision prec,
                  ConvBackend backend);
/// y[n,k,:,:] += b[k] (the transposed convolution's bias).
void add_channel_bias(int64_t N, int64_t C, int64_t HW, const float* b, float* y);
/// db[k] = sum over n, p, q of dy[n,k,p,q].
void channel_sum(int64_t N, int64_t C, int64_t HW, const float* dy, float* db);
}  // namespace launch

namespace detail {
template <class G>
ConvShape conv_shape(const G& g) {
    return {g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.P, g.Q, g.stride_h, g.stride_w, g.pad_h, g.pad_w};
}
template <class T>
void require_float(const char* op) {
    if constexpr (!std::is_same_v<T, float>)
        fail(op, ": the CUDA backend computes in float; ", dtype_name<T>(), " tensors on CUDA are not supported "
             "(cast to float, or keep double work on the CPU)");
}
template <class T>
Tensor<T> device_input(const char* op, const Tensor<T>& t, Device dev) {
    ICHSEG_CHECK(t.device() == dev, op, ": argument ", describe(t), " is not on ", dev.str(),
                 " (move it with .to(", dev.str(), "))");
    ICHSEG_CHECK(t.is_contiguous(), op, ": CUDA kernels need contiguous tensors, got a strided view ", describe(t));
    return t;
}
inline void check_int32(const char* op, int64_t n) {
    ICHSEG_CHECK(n < (int64_t(1) << 31), op, ": tensor of ", n, " elements exceeds the CUDA kernels' 32-bit indexing");
}
}  // namespace detail

template <class T, class G>
Tensor<T> conv2d_fprop(const G& geom, const Tensor<T>& x_in, const Tensor<T>& w_in, const Tensor<T>& b_in) {
    detail::require_float<T>("conv2d_fprop");
    const char* op = "conv2d_fprop";
    const Device dev = x_in.device();
    const ConvShape g = detail::conv_shape(geom);
    Tensor<T> x = detail::device_input(op, x_in, dev), w = detail::device_input(op, w_in, dev);
    Tensor<T> b = b_in.defined() ? detail::device_input(op, b_in, dev) : Tensor<T>();
    detail::check_int32(op, std::max(x.numel(), g.N * g.K * g.P * g.Q));
    Tensor<T> y = Tensor<T>::empty({g.N, g.K, g.P, g.Q}, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::conv2d_fprop(g, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(), precision(),
                             conv_backend());
    return y;
}

template <class T, class G>
Tensor<T> conv2d_dgrad(const G& geom, const Tensor<T>& dy_in, const Tensor<T>& w_in) {
    detail::require_float<T>("conv2d_dgrad");
    const char* op = "conv2d_dgrad";
    const Device dev = dy_in.device();
    const ConvShape g = detail::conv_shape(geom);
    Tensor<T> dy = detail::device_input(op, dy_in, dev), w = detail::device_input(op, w_in, dev);
    detail::check_int32(op, std::max(dy.numel(), g.N * g.C * g.H * g.W));
    Tensor<T> dx = Tensor<T>::empty({g.N, g.C, g.H, g.W}, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::conv2d_dgrad(g, dy.data(), w.data(), dx.data(), precision(), conv_backend());
    return dx;
}

template <class T, class G>
std::pair<Tensor<T>, Tensor<T>> conv2d_wgrad(const G& geom, const Tensor<T>& dy_in, const Tensor<T>& x_in,
                                             bool with_bias) {
    detail::require_float<T>("conv2d_wgrad");
    const char* op = "conv2d_wgrad";
    const Device dev = dy_in.device();
    const ConvShape g = detail::conv_shape(geom);
    Tensor<T> dy = detail::device_input(op, dy_in, dev), x = detail::device_input(op, x_in, dev);
    detail::check_int32(op, std::max(dy.numel(), x.numel()));
    Tensor<T> dw = Tensor<T>::empty({g.K, g.C, g.R, g.S}, dev), db;
    if (with_bias) db = Tensor<T>::empty({g.K}, dev);
    if constexpr (std::is_same_v<T, float>)
        launch::conv2d_wgrad(g, dy.data(), x.data(), dw.data(), with_bias ? db.data() : nullptr, precision(),
                             conv_backend());
    return {dw, db};
}

/// y += bias per channel, in place (y freshly produced by conv2d_dgrad, so not aliased).
template <class T>
void add_channel_bias_(Tensor<T>& y, const Tensor<T>& b) {
    detail::require_float<T>("conv_transpose2d_fprop");
    Tensor<T> bc = detail::device_input("conv_transpose2d_fprop", b, y.device());
    if constexpr (std::is_same_v<T, float>)
        launch::add_channel_bias(y.size(0), y.size(1), y.size(2) * y.size(3), bc.data(), y.data());
}

/// Sum of dy (N,C,H,W) over N, H, W -> (C).
template <class T>
Tensor<T> channel_sum(const Tensor<T>& dy_in) {
    detail::require_float<T>("conv_transpose2d_wgrad");
    Tensor<T> dy = detail::device_input("conv_transpose2d_wgrad", dy_in, dy_in.device());
    Tensor<T> db = Tensor<T>::empty({dy.size(1)}, dy.device());
    if constexpr (std::is_same_v<T, float>)
        launch::channel_sum(dy.size(0), dy.size(1), dy.size(2) * dy.size(3), dy.data(), db.data());
    return db;
}

}  // namespace ichseg::cuda
