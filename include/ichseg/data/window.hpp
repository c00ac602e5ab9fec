/// @file window.hpp
/// @brief CT intensity windows (SPEC §1): HU in [lo, hi] mapped linearly to [0, 1], values outside clipped.
/// Presets: segmentation [-50, 150] (centre 50, width 200), ICM tissue [0, 600], ICM bone [150, 650].
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ichseg/core/error.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/data/image.hpp"

namespace ichseg::data {

struct Window {
    float lo = -50.f, hi = 150.f;

    static Window segmentation() { return {-50.f, 150.f}; }
    static Window tissue() { return {0.f, 600.f}; }
    static Window bone() { return {150.f, 650.f}; }
    /// DICOM-style centre / width: [c - w/2, c + w/2].
    static Window from_center_width(double center, double width) {
        ICHSEG_CHECK(width > 0, "Window: width must be positive, got ", width);
        return {static_cast<float>(center - width / 2), static_cast<float>(center + width / 2)};
    }
    double center() const { return 0.5 * (static_cast<double>(lo) + hi); }
    double width() const { return static_cast<double>(hi) - lo; }
};

/// out[i] = clip((in[i] - lo) / (hi - lo), 0, 1). `out` may alias `in`. NaN maps to 0.
inline void apply_window(const float* in, float* out, int64_t n, Window w) {
    ICHSEG_CHECK(w.hi > w.lo, "apply_window: empty window [", w.lo, ", ", w.hi, "]");
    const float scale = 1.0f / (w.hi - w.lo), lo = w.lo;
    for (int64_t i = 0; i < n; ++i) {
        const float v = (in[i] - lo) * scale;  // exactly 0 at lo (no rounding of lo * scale)
        out[i] = v > 0.f ? (v < 1.f ? v : 1.f) : 0.f;  // NaN fails v > 0 -> 0
    }
}

inline Slice apply_window(const Slice& hu, Window w) {
    Slice out(hu.h, hu.w);
    apply_window(hu.data(), out.data(), hu.size(), w);
    return out;
}

/// Element-wise window of a CPU tensor of any shape.
inline Tensor<float> apply_window(const Tensor<float>& hu, Window w) {
    Tensor<float> c = hu.contiguous();
    Tensor<float> out = Tensor<float>::empty(c.shape());
    apply_window(c.data(), out.data(), c.numel(), w);
    return out;
}

}  // namespace ichseg::data
