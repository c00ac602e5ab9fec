/// @file slices.hpp
/// @brief 2-D slice sources for the batch loader, and the slice selections of the study (SPEC §6-7).
///
/// A `SliceSource` hands out slice i as a `SliceSample` (image in HU, optional mask, labels); `get` must be
/// thread-safe. `VolumeSlices` serves the axial slices of volumes held in memory (loaded cases of PhysioNet /
/// Seg-CQ500 / CQ500, or phantoms) and remembers which case each slice came from (for volume-level folds and
/// evaluation). With `cache_size > 0` it stores each slice already windowed and resized (anti-aliased) to
/// cache_size^2 plus its nearest-resized mask: 16x less memory for 512^2 input and exactly the loader's first two
/// steps for square slices (window -> resize), so augmentation results are the same as on the fly up to the
/// mask's (nearest -> nearest instead of one composed nearest) sampling. RSNA's on-demand DICOM source lives in
/// data/dataset_sources.hpp (it needs DCMTK).
///
/// Selections: `ich_slices` (ICH-only baseline), `select_mixed` (all ICH slices + `ratio` x as many non-ICH
/// slices, drawn once with a seed: SPEC §7 Mixed), `slices_of_cases` (volume-level folds).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/data/image.hpp"
#include "ichseg/data/phantom.hpp"
#include "ichseg/data/random.hpp"
#include "ichseg/data/resize.hpp"
#include "ichseg/data/window.hpp"
#include "ichseg/io/labels.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::data {

struct SliceSample {
    Slice image;            ///< HU, or [0, 1] when `windowed`
    SliceMask mask;         ///< empty when the slice has no mask
    io::IchLabels labels;
    bool windowed = false;  ///< image already windowed (cached sources); the loader then skips windowing
    std::string id;         ///< "<case id>:<slice index>" or the file name
};

class SliceSource {
public:
    virtual ~SliceSource() = default;
    virtual int64_t size() const = 0;
    /// Slice i; thread-safe. Throws ichseg::Error (naming the file) when the slice cannot be read.
    virtual SliceSample get(int64_t i) const = 0;
    /// Labels of slice i without reading pixels.
    virtual io::IchLabels labels(int64_t i) const = 0;
};

class VolumeSlices : public SliceSource {
public:
    struct Options {
        int64_t cache_size = 0;              ///< 0: keep native HU volumes; > 0: store windowed, resized slices
        Window window = Window::segmentation();  ///< used when cache_size > 0
    };
    VolumeSlices() = default;
    explicit VolumeSlices(Options o) : opt_(o) {}

    /// Add every slice of a volume. `mask` may be null; `slice_labels` must have nz entries (or be empty: then
    /// any = mask non-empty, or unknown without a mask). Returns the case index.
    int64_t add_volume(const io::Volume& ct, const io::Mask* mask, std::vector<io::IchLabels> slice_labels,
                       const std::string& id) {
        ICHSEG_CHECK(ct.voxels.defined() && ct.nz() >= 1, "VolumeSlices::add_volume: empty volume ", id);
        if (mask) io::check_same_grid(ct, *mask, "mask");
        const int64_t nz = ct.nz();
        if (slice_labels.empty()) {
            slice_labels.resize(static_cast<size_t>(nz));
            if (mask)
                for (int64_t k = 0; k < nz; ++k) {
                    const uint8_t* p = mask->slice(k);
                    slice_labels[static_cast<size_t>(k)].any =
                        std::any_of(p, p + mask->slice_size(), [](uint8_t v) { return v != 0; }) ? 1 : 0;
                }
        }
        ICHSEG_CHECK(static_cast<int64_t>(slice_labels.size()) == nz, "VolumeSlices::add_volume: ", id, " has ", nz,
                     " slices but ", slice_labels.size(), " slice labels");
        Case c;
        c.id = id;
        c.ny = ct.ny();
        c.nx = ct.nx();
        if (opt_.cache_size > 0) {
            const int64_t s = opt_.cache_size;
            c.cached = Tensor<float>::empty({nz, s, s});
            std::vector<float> win(static_cast<size_t>(ct.slice_size()));
            for (int64_t k = 0; k < nz; ++k) {
                apply_window(ct.slice(k), win.data(), ct.slice_size(), opt_.window);
                resize_bilinear(win.data(), c.ny, c.nx, c.cached.data() + k * s * s, s, s);
            }
            if (mask) {
                c.cached_mask = Tensor<uint8_t>::empty({nz, s, s});
                for (int64_t k = 0; k < nz; ++k)
                    resize_nearest_mask(mask->slice(k), c.ny, c.nx, c.cached_mask.data() + k * s * s, s, s);
            }
        } else {
            c.hu = ct.voxels.contiguous();
            if (mask) c.mask = mask->voxels.contiguous();
        }
        const int64_t ci = static_cast<int64_t>(cases_.size());
        for (int64_t k = 0; k < nz; ++k) {
            refs_.push_back({ci, k});
            labels_.push_back(slice_labels[static_cast<size_t>(k)]);
        }
        cases_.push_back(std::move(c));
        return ci;
    }

    /// Add a phantom with its masks and labels.
    int64_t add_phantom(const Phantom& ph, const std::string& id) {
        return add_volume(ph.ct, &ph.ich, ph.slice_labels, id);
    }

    int64_t size() const override { return static_cast<int64_t>(refs_.size()); }
    int64_t num_cases() const { return static_cast<int64_t>(cases_.size()); }
    const std::string& case_id(int64_t c) const { return cases_.at(static_cast<size_t>(c)).id; }
    /// Case and slice index of slice i.
    int64_t case_of(int64_t i) const { return refs_.at(static_cast<size_t>(i)).first; }
    int64_t slice_of(int64_t i) const { return refs_.at(static_cast<size_t>(i)).second; }
    io::IchLabels labels(int64_t i) const override { return labels_.at(static_cast<size_t>(i)); }

    SliceSample get(int64_t i) const override {
        ICHSEG_CHECK(i >= 0 && i < size(), "VolumeSlices::get: index ", i, " out of range [0, ", size(), ")");
        const auto [ci, k] = refs_[static_cast<size_t>(i)];
        const Case& c = cases_[static_cast<size_t>(ci)];
        SliceSample s;
        s.labels = labels_[static_cast<size_t>(i)];
        s.id = c.id + ":" + std::to_string(k);
        if (c.cached.defined()) {
            const int64_t n = opt_.cache_size;
            s.image = Slice::from_data(n, n, c.cached.data() + k * n * n);
            if (c.cached_mask.defined()) s.mask = SliceMask::from_data(n, n, c.cached_mask.data() + k * n * n);
            s.windowed = true;
        } else {
            const int64_t plane = c.ny * c.nx;
            s.image = Slice::from_data(c.ny, c.nx, c.hu.data() + k * plane);
            if (c.mask.defined()) s.mask = SliceMask::from_data(c.ny, c.nx, c.mask.data() + k * plane);
        }
        return s;
    }

private:
    struct Case {
        std::string id;
        int64_t ny = 0, nx = 0;
        Tensor<float> hu;
        Tensor<uint8_t> mask;
        Tensor<float> cached;
        Tensor<uint8_t> cached_mask;
    };
    Options opt_;
    std::vector<Case> cases_;
    std::vector<std::pair<int64_t, int64_t>> refs_;
    std::vector<io::IchLabels> labels_;
};

/// Indices of slices with any = 1 (the ICH-only baseline's training slices), restricted to `among` when given.
inline std::vector<int64_t> ich_slices(const SliceSource& src, const std::vector<int64_t>* among = nullptr) {
    std::vector<int64_t> out;
    const int64_t n = among ? static_cast<int64_t>(among->size()) : src.size();
    for (int64_t t = 0; t < n; ++t) {
        const int64_t i = among ? (*among)[static_cast<size_t>(t)] : t;
        if (src.labels(i).any == 1) out.push_back(i);
    }
    return out;
}

/// SPEC §7 Mixed: all ICH slices of `among` plus min(ratio x #ICH, #non-ICH) non-ICH slices drawn without
/// replacement with `seed` (the same subset for every method of a fold). Result sorted.
inline std::vector<int64_t> select_mixed(const SliceSource& src, const std::vector<int64_t>& among, double ratio,
                                         uint64_t seed) {
    std::vector<int64_t> ich, non;
    for (int64_t i : among) (src.labels(i).any == 1 ? ich : non).push_back(i);
    const int64_t want = std::min<int64_t>(static_cast<int64_t>(non.size()), static_cast<int64_t>(std::llround(ratio * static_cast<double>(ich.size()))));
    Rng rng(seed, stream_id(0x313ed, 0));
    for (int64_t t = 0; t < want; ++t) std::swap(non[static_cast<size_t>(t)], non[static_cast<size_t>(rng.randint(t, static_cast<int64_t>(non.size()) - 1))]);
    std::vector<int64_t> out = ich;
    out.insert(out.end(), non.begin(), non.begin() + want);
    std::sort(out.begin(), out.end());
    return out;
}

/// All slices of the given cases of a VolumeSlices (volume-level split).
inline std::vector<int64_t> slices_of_cases(const VolumeSlices& src, const std::vector<int64_t>& cases) {
    std::vector<char> want(static_cast<size_t>(src.num_cases()), 0);
    for (int64_t c : cases) {
        ICHSEG_CHECK(c >= 0 && c < src.num_cases(), "slices_of_cases: case ", c, " out of range");
        want[static_cast<size_t>(c)] = 1;
    }
    std::vector<int64_t> out;
    for (int64_t i = 0; i < src.size(); ++i)
        if (want[static_cast<size_t>(src.case_of(i))]) out.push_back(i);
    return out;
}

}  // namespace ichseg::data
