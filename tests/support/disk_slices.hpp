/// @file disk_slices.hpp (tests)
/// @brief A synthetic in-memory `data::SliceSource` for training tests: windowed slices with a bright disk lesion
/// (also the mask) on even indices, none on odd ones, so that Dice losses, the empty-mask weight and the binary
/// labels all have something to see.
#pragma once

#include <string>

#include "ichseg/data/slices.hpp"

namespace ichseg::test {

/// Windowed S x S slices with a bright disk (the "lesion", also the mask) whose place and size depend on i;
/// odd slices have no disk (negative labels), so the Mixed-Dice alpha and the binary labels both matter.
class DiskSlices : public data::SliceSource {
public:
    DiskSlices(int64_t n, int64_t S) : n_(n), S_(S) {}
    int64_t size() const override { return n_; }
    data::SliceSample get(int64_t i) const override {
        data::SliceSample s;
        s.image = data::Slice(S_, S_);
        s.mask = data::SliceMask(S_, S_);
        s.windowed = true;
        s.labels = labels(i);
        s.id = "disk:" + std::to_string(i);
        const double cx = S_ * (0.3 + 0.04 * static_cast<double>(i % 7)), cy = S_ * (0.35 + 0.05 * static_cast<double>(i % 5));
        const double r = S_ * (0.12 + 0.01 * static_cast<double>(i % 3));
        for (int64_t y = 0; y < S_; ++y)
            for (int64_t x = 0; x < S_; ++x) {
                const bool in = (i % 2 == 0) && (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r;
                const size_t k = static_cast<size_t>(y * S_ + x);
                s.image.px[k] = 0.25f + 0.1f * static_cast<float>((x * 7 + y * 3 + i) % 5) / 5.f + (in ? 0.5f : 0.f);
                s.mask.px[k] = in ? 1 : 0;
            }
        return s;
    }
    io::IchLabels labels(int64_t i) const override {
        io::IchLabels l = io::IchLabels::negative();
        if (i % 2 == 0) {
            l.any = 1;
            l.subtype[static_cast<size_t>(i / 2 % io::kNumSubtypes)] = 1;
        }
        return l;
    }

private:
    int64_t n_, S_;
};

}  // namespace ichseg::test
