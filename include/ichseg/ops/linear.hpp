/// @file linear.hpp
/// @brief Fully connected layer (torch.nn.functional.linear): y = x W^T + b.
/// Shapes: x (N, in), W (out, in), b (out) or undefined, y (N, out).
/// Backward: dx = dy W, dW = dy^T x, db = sum over N of dy.
#pragma once

#include "ichseg/cpu/gemm.hpp"
#include "ichseg/ops/common.hpp"

namespace ichseg {

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b) {
    detail::static_check_float<T>();
    const char* op = "linear";
    detail::check_rank(op, "input", x.value(), 2);
    detail::check_rank(op, "weight", w.value(), 2);
    const int64_t N = x.size(0), in = x.size(1), out = w.size(0);
    ICHSEG_CHECK(w.size(1) == in, op, ": input ", to_string(x.shape()), " has ", in, " features but weight ",
                 to_string(w.shape()), " expects ", w.size(1));
    if (b.defined())
        ICHSEG_CHECK(b.dim() == 1 && b.size(0) == out, op, ": bias must be (", out, "), got ", describe(b.value()));
#if ICHSEG_WITH_CUDA
    if (x.device().is_cuda()) return cuda::linear(x, w, b);
#endif
    Tensor<T> xc = detail::cpu_input(op, x.value()), wc = detail::cpu_input(op, w.value());
    Tensor<T> y = Tensor<T>::empty({N, out});
    cpu::gemm<T>(false, true, N, out, in, T(1), xc.data(), in, wc.data(), in, T(0), y.data(), out);
    if (b.defined()) {
        Tensor<T> bc = detail::cpu_input(op, b.value());
        for (int64_t n = 0; n < N; ++n)
            for (int64_t o = 0; o < out; ++o) y.data()[n * out + o] += bc.data()[o];
    }
    const bool has_b = b.defined();
    return record<T>("linear", y, {&x, &w, &b}, [xc, wc, N, in, out, has_b](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::cpu_input("linear_bwd", gy_in);
        Tensor<T> dx = Tensor<T>::empty({N, in}), dw = Tensor<T>::empty({out, in}), db;
        cpu::gemm<T>(false, false, N, in, out, T(1), gy.data(), out, wc.data(), in, T(0), dx.data(), in);
        cpu::gemm<T>(true, false, out, in, N, T(1), gy.data(), out, xc.data(), in, T(0), dw.data(), in);
        if (has_b) {
            db = Tensor<T>::zeros({out});
            for (int64_t n = 0; n < N; ++n)
                for (int64_t o = 0; o < out; ++o) db.data()[o] += gy.data()[n * out + o];
        }
        return std::vector<Tensor<T>>{dx, dw, db};
    });
}

}  // namespace ichseg
