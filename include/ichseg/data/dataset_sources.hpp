/// @file dataset_sources.hpp
/// @brief Slice sources (data/slices.hpp) backed by the dataset layouts: RSNA images read from DICOM on demand,
/// and a helper that loads every case of a volume dataset (io/datasets/) into a `VolumeSlices`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ichseg/data/slices.hpp"
#include "ichseg/io/datasets/common.hpp"
#include "ichseg/io/datasets/rsna.hpp"

namespace ichseg::data {

/// RSNA images as slices (no masks): each `get` reads one DICOM file (thread-safe; DCMTK objects are per call).
class RsnaSliceSource : public SliceSource {
public:
    explicit RsnaSliceSource(std::shared_ptr<const io::RsnaDataset> ds) : ds_(std::move(ds)) {
        ICHSEG_CHECK(ds_ != nullptr, "RsnaSliceSource: null dataset");
    }
    int64_t size() const override { return ds_->size(); }
    io::IchLabels labels(int64_t i) const override { return ds_->labels(i); }
    SliceSample get(int64_t i) const override {
        io::DicomSlice d = ds_->load(i);
        SliceSample s;
        s.image = Slice::from_data(d.header.rows, d.header.cols, d.hu.data());
        s.labels = ds_->labels(i);
        s.id = ds_->image_id(i);
        return s;
    }
    const io::RsnaDataset& dataset() const { return *ds_; }

private:
    std::shared_ptr<const io::RsnaDataset> ds_;
};

/// Load the given cases (all when `cases` is empty) of a volume dataset into `out`. A case that fails to load is
/// recorded in `skipped` (and logged) and left out. Returns the dataset case index of each added case.
inline std::vector<int64_t> add_dataset_cases(VolumeSlices& out, const io::VolumeDataset& ds,
                                              std::vector<int64_t> cases = {},
                                              std::vector<io::Skipped>* skipped = nullptr) {
    if (cases.empty())
        for (int64_t i = 0; i < ds.size(); ++i) cases.push_back(i);
    std::vector<int64_t> added;
    for (int64_t i : cases) {
        try {
            io::LoadedCase lc = ds.load(i);
            out.add_volume(lc.ct, lc.ich ? &*lc.ich : nullptr, lc.slice_labels, lc.id);
            added.push_back(i);
        } catch (const Error& e) {
            std::vector<io::Skipped> local;
            io::record_skip(skipped ? *skipped : local, ds.case_ref(i).ct_path, e.what());
        }
    }
    return added;
}

}  // namespace ichseg::data
