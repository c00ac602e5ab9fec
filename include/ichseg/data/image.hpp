/// @file image.hpp
/// @brief `data::Image2D<T>`: one 2-D slice (h rows by w columns, row-major), the unit every preprocessing step
/// works on, and conversions to and from `Tensor` (H, W). Kept deliberately simple: a std::vector and two sizes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/core/tensor.hpp"

namespace ichseg::data {

template <class T>
struct Image2D {
    int64_t h = 0, w = 0;
    std::vector<T> px;

    Image2D() = default;
    Image2D(int64_t h_, int64_t w_, T fill = T(0)) : h(h_), w(w_), px(static_cast<size_t>(h_ * w_), fill) {
        ICHSEG_CHECK(h_ >= 0 && w_ >= 0, "Image2D: negative size ", h_, "x", w_);
    }
    /// A copy of h * w values.
    static Image2D from_data(int64_t h_, int64_t w_, const T* src) {
        Image2D im;
        im.h = h_;
        im.w = w_;
        im.px.assign(src, src + h_ * w_);
        return im;
    }
    T* data() { return px.data(); }
    const T* data() const { return px.data(); }
    int64_t size() const { return h * w; }
    bool empty() const { return px.empty(); }
    T& operator()(int64_t y, int64_t x) { return px[static_cast<size_t>(y * w + x)]; }
    const T& operator()(int64_t y, int64_t x) const { return px[static_cast<size_t>(y * w + x)]; }
    /// A (h, w) CPU tensor copy.
    Tensor<T> to_tensor() const {
        Tensor<T> t = Tensor<T>::empty({h, w});
        std::copy(px.begin(), px.end(), t.data());
        return t;
    }
    /// From a 2-D tensor (any strides, CPU).
    static Image2D from_tensor(const Tensor<T>& t) {
        ICHSEG_CHECK(t.dim() == 2, "Image2D::from_tensor: expected a 2-D tensor, got ", to_string(t.shape()));
        Tensor<T> c = t.contiguous();
        return from_data(c.size(0), c.size(1), c.data());
    }
};

using Slice = Image2D<float>;
using SliceMask = Image2D<uint8_t>;

}  // namespace ichseg::data
