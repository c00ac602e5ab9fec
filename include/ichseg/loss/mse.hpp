/// @file mse.hpp
/// @brief Mean squared error over all elements: L = mean((y - t)^2), dL/dy = 2 (y - t) / n.
#pragma once

#include "ichseg/loss/common.hpp"

namespace ichseg {

template <class T>
LossAndGrad<T> mse_loss_value_and_grad(const Tensor<T>& y_in, const Tensor<T>& t_in) {
    detail::check_same_shape("mse_loss", "prediction", y_in, "target", t_in);
#if ICHSEG_WITH_CUDA
    if (y_in.device().is_cuda()) {
        ICHSEG_CHECK(y_in.numel() > 0, "mse_loss: empty input");
        auto r = cuda::mse_loss_value_and_grad(y_in, t_in);
        return {r.first, std::move(r.second)};
    }
#endif
    Tensor<T> y = detail::cpu_input("mse_loss", y_in), t = detail::cpu_input("mse_loss", t_in);
    const int64_t n = y.numel();
    ICHSEG_CHECK(n > 0, "mse_loss: empty input");
    Tensor<T> g = Tensor<T>::empty(y.shape());
    const int parts_max = num_threads();
    std::vector<double> part(static_cast<size_t>(parts_max), 0.0);
    const int parts = parallel_chunks(n, [&](int th, int64_t b, int64_t e) {
        double s = 0;
        const T k = static_cast<T>(2.0 / static_cast<double>(n));
        for (int64_t i = b; i < e; ++i) {
            const T d = y.data()[i] - t.data()[i];
            s += static_cast<double>(d) * d;
            g.data()[i] = k * d;
        }
        part[static_cast<size_t>(th)] = s;
    });
    double total = 0;
    for (int i = 0; i < parts; ++i) total += part[static_cast<size_t>(i)];
    return {total / static_cast<double>(n), {g}};
}

template <class T>
Var<T> mse_loss(const Var<T>& y, const Tensor<T>& target) {
    detail::static_check_float<T>();
    return detail::record_loss<T>("mse_loss", mse_loss_value_and_grad(y.value(), target), {&y});
}

}  // namespace ichseg
