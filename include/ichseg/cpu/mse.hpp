/// @file mse.hpp (cpu)
/// @brief CPU kernel of the fused mean squared error (contract: loss/mse.hpp): contiguous blocks per thread,
/// per-thread partial sums in double reduced in thread order (reproducible for a fixed thread count).
#pragma once

#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/params/mse.hpp"

namespace ichseg::cpu {

/// y, t (n > 0 elements, contiguous); writes grad = 2 (y - t) / n; returns mean (y - t)^2.
template <class T>
double mse_loss_value_and_grad(const MseGeometry& g, const T* y, const T* t, T* grad) {
    const int64_t n = g.n;
    const int parts_max = num_threads();
    std::vector<double> part(static_cast<size_t>(parts_max), 0.0);
    const int parts = parallel_chunks(n, [&](int th, int64_t b, int64_t e) {
        double s = 0;
        const T k = static_cast<T>(2.0 / static_cast<double>(n));
        for (int64_t i = b; i < e; ++i) {
            const T d = y[i] - t[i];
            s += static_cast<double>(d) * d;
            grad[i] = k * d;
        }
        part[static_cast<size_t>(th)] = s;
    });
    double total = 0;
    for (int i = 0; i < parts; ++i) total += part[static_cast<size_t>(i)];
    return total / static_cast<double>(n);
}

}  // namespace ichseg::cpu
