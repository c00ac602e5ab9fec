/// @file concat.hpp
/// @brief Concatenation along one dimension (torch.cat); the backward pass slices the gradient back.
/// All inputs must agree in every other dimension. The U-Net uses cat([skip, up], dim 1).
#pragma once

#include <cstring>
#include <vector>

#include "ichseg/ops/common.hpp"

namespace ichseg {

template <class T>
Var<T> concat(const std::vector<Var<T>>& xs, int64_t dim = 1) {
    detail::static_check_float<T>();
    ICHSEG_CHECK(!xs.empty(), "concat: no inputs");
    const Shape& s0 = xs[0].shape();
    const int64_t rank = static_cast<int64_t>(s0.size());
    if (dim < 0) dim += rank;
    ICHSEG_CHECK(dim >= 0 && dim < rank, "concat: dimension ", dim, " out of range for ", to_string(s0));
    Shape out = s0;
    out[dim] = 0;
    std::vector<Tensor<T>> vals;
    for (size_t i = 0; i < xs.size(); ++i) {
        const Shape& s = xs[i].shape();
        bool ok = s.size() == s0.size();
        for (int64_t d = 0; ok && d < rank; ++d) ok = (d == dim) || s[d] == s0[d];
        ICHSEG_CHECK(ok, "concat: input ", i, " has shape ", to_string(s), ", incompatible with input 0 of shape ",
                     to_string(s0), " along dimension ", dim);
        out[dim] += s[dim];
#if ICHSEG_WITH_CUDA
        if (xs[0].device().is_cuda()) continue;  // the CUDA path below reads the values itself
#endif
        vals.push_back(detail::cpu_input("concat", xs[i].value()));
    }
#if ICHSEG_WITH_CUDA
    if (xs[0].device().is_cuda()) return cuda::concat(xs, dim);
#endif
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < dim; ++d) outer *= s0[d];
    for (int64_t d = dim + 1; d < rank; ++d) inner *= s0[d];
    Tensor<T> y = Tensor<T>::empty(out);
    std::vector<int64_t> offs;
    int64_t off = 0;
    for (auto& v : vals) {
        offs.push_back(off);
        off += v.size(dim);
    }
    const int64_t total = out[dim];
    parallel_for(outer, [&](int64_t o) {
        for (size_t i = 0; i < vals.size(); ++i) {
            const int64_t len = vals[i].size(dim) * inner;
            std::memcpy(y.data() + (o * total + offs[i]) * inner, vals[i].data() + o * len, sizeof(T) * len);
        }
    }, y.numel());
    std::vector<int64_t> sizes;
    for (auto& v : vals) sizes.push_back(v.size(dim));
    auto bwd = [sizes, offs, outer, inner, total, dim](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::cpu_input("concat_bwd", gy_in);
        std::vector<Tensor<T>> g;
        for (size_t i = 0; i < sizes.size(); ++i) {
            Shape s = gy.shape();
            s[dim] = sizes[i];
            Tensor<T> gi = Tensor<T>::empty(s);
            const int64_t len = sizes[i] * inner;
            parallel_for(outer, [&](int64_t o) {
                std::memcpy(gi.data() + o * len, gy.data() + (o * total + offs[i]) * inner, sizeof(T) * len);
            }, gi.numel());
            g.push_back(gi);
        }
        return g;
    };
    std::vector<const Var<T>*> inputs;
    for (auto& v : xs) inputs.push_back(&v);
    return record<T>("concat", y, inputs, std::move(bwd));
}

}  // namespace ichseg
