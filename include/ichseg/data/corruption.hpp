/// @file corruption.hpp
/// @brief Context-restoration corruption (Chen et al. 2019; SPEC §6): N sequential swaps of two h x w patches
/// whose rectangles do not overlap (default N = 20, 20 x 20). A later swap may touch an earlier one, as in the
/// original method. Seeded through `Rng`; the swap list is returned for tests and inspection.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/data/image.hpp"
#include "ichseg/data/random.hpp"

namespace ichseg::data {

struct ContextRestorationParams {
    int64_t swaps = 20;
    int64_t patch_h = 20, patch_w = 20;
};

struct PatchSwap {
    int64_t y1, x1, y2, x2;  ///< top-left corners of the two patches
};

/// Corrupt `img` (h x w) in place. Error when two non-overlapping patches cannot fit.
inline std::vector<PatchSwap> corrupt_context(float* img, int64_t h, int64_t w, const ContextRestorationParams& p,
                                              Rng& rng) {
    const int64_t ph = p.patch_h, pw = p.patch_w;
    ICHSEG_CHECK(ph >= 1 && pw >= 1 && p.swaps >= 0, "corrupt_context: invalid patch ", ph, "x", pw, " or swaps ",
                 p.swaps);
    ICHSEG_CHECK(ph <= h && pw <= w && (2 * ph <= h || 2 * pw <= w), "corrupt_context: two non-overlapping ", ph,
                 "x", pw, " patches do not fit a ", h, "x", w, " image");
    std::vector<PatchSwap> out;
    out.reserve(static_cast<size_t>(p.swaps));
    std::vector<float> buf(static_cast<size_t>(pw));
    for (int64_t s = 0; s < p.swaps; ++s) {
        const int64_t y1 = rng.randint(0, h - ph), x1 = rng.randint(0, w - pw);
        int64_t y2 = 0, x2 = 0;
        bool ok = false;
        for (int attempt = 0; attempt < 1000 && !ok; ++attempt) {
            y2 = rng.randint(0, h - ph);
            x2 = rng.randint(0, w - pw);
            ok = std::llabs(y1 - y2) >= ph || std::llabs(x1 - x2) >= pw;
        }
        if (!ok) {
            // deterministic fallback: the farthest corner from patch 1
            y2 = (y1 >= h - ph - y1) ? 0 : h - ph;
            x2 = (x1 >= w - pw - x1) ? 0 : w - pw;
            if (!(std::llabs(y1 - y2) >= ph || std::llabs(x1 - x2) >= pw)) continue;
        }
        for (int64_t r = 0; r < ph; ++r) {
            float* a = img + (y1 + r) * w + x1;
            float* b = img + (y2 + r) * w + x2;
            std::copy(a, a + pw, buf.begin());
            std::copy(b, b + pw, a);
            std::copy(buf.begin(), buf.end(), b);
        }
        out.push_back({y1, x1, y2, x2});
    }
    return out;
}

inline std::vector<PatchSwap> corrupt_context(Slice& img, const ContextRestorationParams& p, Rng& rng) {
    return corrupt_context(img.data(), img.h, img.w, p, rng);
}

}  // namespace ichseg::data
