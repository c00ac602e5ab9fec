/// @file softmax.hpp
/// @brief Softmax over the last dimension: y_i = exp(x_i - max) / sum_j exp(x_j - max);
/// dx = y * (dy - sum_j dy_j y_j).
#pragma once

#include <cmath>

#include "ichseg/ops/common.hpp"

namespace ichseg {

template <class T>
Var<T> softmax(const Var<T>& x) {
    detail::static_check_float<T>();
    ICHSEG_CHECK(x.dim() >= 1, "softmax: needs at least one dimension, got ", to_string(x.shape()));
#if ICHSEG_WITH_CUDA
    if (x.device().is_cuda()) return cuda::softmax(x);
#endif
    Tensor<T> xc = detail::cpu_input("softmax", x.value());
    const int64_t K = xc.size(-1), rows = xc.numel() / std::max<int64_t>(K, 1);
    Tensor<T> y = Tensor<T>::empty(xc.shape());
    parallel_for(rows, [&](int64_t r) {
        const T* xp = xc.data() + r * K;
        T* yp = y.data() + r * K;
        T m = xp[0];
        for (int64_t k = 1; k < K; ++k) m = std::max(m, xp[k]);
        T s = 0;
        for (int64_t k = 0; k < K; ++k) s += (yp[k] = std::exp(xp[k] - m));
        for (int64_t k = 0; k < K; ++k) yp[k] /= s;
    });
    return record<T>("softmax", y, {&x}, [y, K, rows](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::cpu_input("softmax_bwd", gy_in);
        Tensor<T> dx = Tensor<T>::empty(y.shape());
        parallel_for(rows, [&](int64_t r) {
            const T* yp = y.data() + r * K;
            const T* g = gy.data() + r * K;
            T dot = 0;
            for (int64_t k = 0; k < K; ++k) dot += g[k] * yp[k];
            for (int64_t k = 0; k < K; ++k) dx.data()[r * K + k] = yp[k] * (g[k] - dot);
        });
        return std::vector<Tensor<T>>{dx};
    });
}

}  // namespace ichseg
