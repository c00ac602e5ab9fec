/// @file labels.hpp (data/phantom)
/// @brief Labels derived from the generated masks, so that they always agree with them: per slice, any
/// hemorrhage and each subtype present in the slice's mask; for the volume, the OR of the slices; per lesion, its
/// subtype's voxel count; the fracture flag from the slices that show one.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "ichseg/data/phantom/lesions.hpp"
#include "ichseg/data/phantom/params.hpp"

namespace ichseg::data::phantom {

/// Fill `ph.slice_labels`, `ph.labels`, `ph.slice_fracture`, `ph.fracture` and `ph.lesions` from the masks
/// (`ph.ich`, `ph.subtype_bits`), the slices that show the fracture and the drawn lesions.
inline void derive_labels(Phantom& ph, const std::vector<uint8_t>& frac_slice, const std::vector<LesionModel>& lesions) {
    const int64_t nz = ph.ct.nz(), plane = ph.ct.slice_size();
    ph.slice_labels.resize(static_cast<size_t>(nz));
    ph.labels = IchLabels::negative();
    ph.slice_fracture = frac_slice;
    std::array<int64_t, 5> counts{};
    for (int64_t kz = 0; kz < nz; ++kz) {
        IchLabels l = IchLabels::negative();
        const uint8_t* im = ph.ich.voxels.data() + kz * plane;
        const uint8_t* sb = ph.subtype_bits.voxels.data() + kz * plane;
        for (int64_t i = 0; i < plane; ++i) {
            if (!im[i]) continue;
            l.any = 1;
            for (int s = 0; s < io::kNumSubtypes; ++s)
                if (sb[i] & (1u << s)) {
                    l.subtype[static_cast<size_t>(s)] = 1;
                    ++counts[static_cast<size_t>(s)];
                }
        }
        ph.slice_labels[static_cast<size_t>(kz)] = l;
        ph.labels.merge(l);
        if (frac_slice[static_cast<size_t>(kz)]) ph.fracture = true;
    }
    for (const auto& L : lesions) {
        PhantomLesion pl;
        pl.type = L.type;
        pl.center = {L.c.x, L.c.y, L.c.z};
        pl.size_mm = L.size_mm;
        pl.hu = L.hu;
        pl.variant = L.variant;
        pl.voxels = counts[static_cast<size_t>(L.type)];
        ph.lesions.push_back(pl);
    }
}

}  // namespace ichseg::data::phantom
