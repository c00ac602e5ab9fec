/// @file concat.hpp (cuda)
/// @brief CUDA concatenation: each input is one strided block copy into the output (outer x len -> outer x
/// total at an offset); backward copies the slices back out. Kernels: kernels/concat.cu.
#pragma once

#include "ichseg/autograd/variable.hpp"
#include "ichseg/cuda/conv2d.hpp"

namespace ichseg::cuda {

namespace launch {
/// to_out: dst[o * total + offset + i] = src[o * len + i]; otherwise the reverse. i < len, o < outer.
void concat_copy(int64_t outer, int64_t len, int64_t total, int64_t offset, const float* src, float* dst, bool to_out);
}  // namespace launch

/// Arguments already checked by ichseg::concat; `dim` non-negative.
template <class T>
Var<T> concat(const std::vector<Var<T>>& xs, int64_t dim) {
    detail::require_float<T>("concat");
    const Device dev = xs[0].device();
    const Shape& s0 = xs[0].shape();
    const int64_t rank = static_cast<int64_t>(s0.size());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < dim; ++d) outer *= s0[d];
    for (int64_t d = dim + 1; d < rank; ++d) inner *= s0[d];
    Shape out = s0;
    out[dim] = 0;
    std::vector<Tensor<T>> vals;
    std::vector<int64_t> sizes, offs;
    for (auto& v : xs) {
        vals.push_back(detail::device_input("concat", v.value(), dev));
        offs.push_back(out[dim]);
        sizes.push_back(v.shape()[dim]);
        out[dim] += v.shape()[dim];
    }
    const int64_t total = out[dim];
    Tensor<T> y = Tensor<T>::empty(out, dev);
    detail::check_int32("concat", y.numel());
    if constexpr (std::is_same_v<T, float>)
        for (size_t i = 0; i < vals.size(); ++i)
            launch::concat_copy(outer, sizes[i] * inner, total * inner, offs[i] * inner, vals[i].data(), y.data(), true);
    auto bwd = [sizes, offs, outer, inner, total, dim, dev](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::device_input("concat_bwd", gy_in, dev);
        std::vector<Tensor<T>> g;
        for (size_t i = 0; i < sizes.size(); ++i) {
            Shape s = gy.shape();
            s[dim] = sizes[i];
            Tensor<T> gi = Tensor<T>::empty(s, dev);
            if constexpr (std::is_same_v<T, float>)
                launch::concat_copy(outer, sizes[i] * inner, total * inner, offs[i] * inner, gy.data(), gi.data(),
                                    false);
            g.push_back(gi);
        }
        return g;
    };
    std::vector<const Var<T>*> inputs;
    for (auto& v : xs) inputs.push_back(&v);
    return record<T>("concat", y, inputs, std::move(bwd));
}

}  // namespace ichseg::cuda
