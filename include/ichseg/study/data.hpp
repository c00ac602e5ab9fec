/// @file data.hpp (study)
/// @brief The study's data: where each dataset lives under a data root, writing fresh phantoms in the published
/// layouts (--generate-phantoms), and loading the volume datasets into in-memory slice caches at the network's
/// input size: the segmentation window (the U-Nets' input) plus the tissue and bone windows (the ICM U-Nets'
/// inputs), with the per-volume labels the folds and the evaluation need.
///
/// Root layout: <root>/physionet (PhysioNet CT-ICH), <root>/segcq500 (folder holding Seg-CQ500/), <root>/rsna
/// (RSNA stage_2_train + csv), <root>/icm (a Seg-CQ500-layout set whose brain.nii.gz masks train the ICM; for
/// real data point it at Seg-CQ500 itself or at any set of CT + cavity masks in that layout).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ichseg/data/dataset_sources.hpp"
#include "ichseg/data/phantom_layouts.hpp"
#include "ichseg/data/slices.hpp"
#include "ichseg/eval/metrics.hpp"
#include "ichseg/io/datasets/cq500_reads.hpp"
#include "ichseg/io/datasets/physionet.hpp"
#include "ichseg/io/datasets/rsna.hpp"
#include "ichseg/io/datasets/seg_cq500.hpp"
#include "ichseg/study/config.hpp"

namespace ichseg::study {

struct DataPaths {
    std::string physionet, segcq500, rsna, icm;
    static DataPaths under(const std::string& root) {
        return {root + "/physionet", root + "/segcq500", root + "/rsna", root + "/icm"};
    }
    /// A Seg-CQ500-layout folder: `dir` itself, or `dir`/Seg-CQ500 when the release folder sits inside it.
    static std::string segcq500_root(const std::string& dir) {
        std::error_code ec;
        return std::filesystem::is_directory(dir + "/Seg-CQ500", ec) ? dir + "/Seg-CQ500" : dir;
    }
};

/// Write all four phantom sets under `root` (each layout writer is seeded differently). Returns a one-line
/// summary per set.
inline std::vector<std::string> generate_phantoms(const std::string& root, const StudyConfig& c) {
    const DataPaths p = DataPaths::under(root);
    data::LayoutOptions o;
    o.size = c.phantom_size;
    o.slices = c.phantom_slices;
    o.spacing = c.phantom_spacing;
    o.ich_fraction = c.phantom_ich_fraction;
    o.fov_mm = c.phantom_fov;
    o.lesion_scale = c.phantom_lesion_scale;
    o.slab_anywhere = c.phantom_slab_anywhere;
    o.quirks = true;
    std::vector<std::string> lines;
    auto count_ich = [](const data::LayoutManifest& m) {
        int64_t n = 0;
        for (const auto& cs : m.cases) n += cs.labels.any == 1;
        return n;
    };
    o.count = c.phantom_physionet;
    o.seed = c.seed ^ 0x1001;
    auto m = data::write_physionet_layout(p.physionet, o);
    lines.push_back("PhysioNet layout: " + std::to_string(m.cases.size()) + " volumes (" +
                    std::to_string(count_ich(m)) + " with ICH) in " + p.physionet);
    o.count = c.phantom_segcq500;
    o.seed = c.seed ^ 0x2002;
    m = data::write_segcq500_layout(p.segcq500, o);
    lines.push_back("Seg-CQ500 layout: " + std::to_string(m.cases.size()) + " volumes in " + p.segcq500);
    o.count = c.phantom_icm;
    o.seed = c.seed ^ 0x3003;
    o.quirks = false;
    o.first_number = 1000;  // other patients than the Seg-CQ500-layout set: CQ500-CT-1000 ...
    m = data::write_segcq500_layout(p.icm, o);
    lines.push_back("ICM training set (Seg-CQ500 layout with brain masks): " + std::to_string(m.cases.size()) +
                    " volumes in " + p.icm);
    o.quirks = true;
    o.count = c.phantom_rsna_studies;
    o.slices = c.phantom_rsna_slices;
    o.seed = c.seed ^ 0x4004;
    m = data::write_rsna_layout(p.rsna, o);
    lines.push_back("RSNA layout: " + std::to_string(m.cases.size()) + " images (" + std::to_string(count_ich(m)) +
                    " with ICH) in " + p.rsna);
    return lines;
}

/// Content fingerprint of a CT volume: FNV-1a over its shape and HU voxel values. Two files holding the same
/// volume (a symlinked or copied dataset) have the same fingerprint.
inline uint64_t volume_fingerprint(const io::Volume& v) {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](const void* p, size_t n) {
        const unsigned char* b = static_cast<const unsigned char*>(p);
        for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    };
    const int64_t dims[3] = {v.nz(), v.ny(), v.nx()};
    mix(dims, sizeof dims);
    const Tensor<float> c = v.voxels.contiguous();
    mix(c.data(), static_cast<size_t>(c.numel()) * sizeof(float));
    return h;
}

/// Which volume a case is, for the ICM's disjointness rule: its case id and content fingerprint.
struct VolumeIdentity {
    std::string id;
    uint64_t fingerprint = 0;
};

/// Two volumes are the same scan when their voxels are identical (a dataset used twice, e.g. <data>/icm
/// symlinked to Seg-CQ500) or when both name the same CQ500 patient (CQ500-CT-<n>, however written: a
/// re-conversion of that patient's series).
inline bool same_volume(const VolumeIdentity& a, const VolumeIdentity& b) {
    if (a.fingerprint == b.fingerprint) return true;
    const int64_t na = io::cq500_number(a.id), nb = io::cq500_number(b.id);
    return na >= 0 && na == nb;
}

/// One volume dataset held in memory at the input size, in the three windows.
struct LoadedVolumes {
    std::string name;
    std::shared_ptr<data::VolumeSlices> seg;     ///< segmentation window, ICH masks
    std::shared_ptr<data::VolumeSlices> tissue;  ///< tissue window (ICM input); masks: the cavity when loaded for ICM
    std::shared_ptr<data::VolumeSlices> bone;    ///< bone window (ICM input); masks as `tissue`
    std::vector<bool> has_ich;                   ///< per case
    std::vector<uint32_t> subtypes;              ///< per case, eval::Subtype bits
    std::vector<VolumeIdentity> identity;        ///< per case: id and CT fingerprint
    std::vector<std::string> skipped;            ///< "path: reason"
    int64_t num_cases() const { return static_cast<int64_t>(has_ich.size()); }
};

/// Load every readable case of `ds`. With `cavity` the tissue / bone caches carry the brain masks (ICM training
/// set; a case without brain mask is an error naming it); `with_seg` = false skips the segmentation cache.
inline LoadedVolumes load_volumes(const io::VolumeDataset& ds, int64_t size, bool cavity, bool with_seg = true) {
    LoadedVolumes out;
    out.name = ds.name();
    auto make = [&](data::Window w) {
        data::VolumeSlices::Options o;
        o.cache_size = size;
        o.window = w;
        return std::make_shared<data::VolumeSlices>(o);
    };
    out.seg = make(data::Window::segmentation());
    out.tissue = make(data::Window::tissue());
    out.bone = make(data::Window::bone());
    for (const auto& s : ds.skipped()) out.skipped.push_back(s.path + ": " + s.reason);
    for (int64_t i = 0; i < ds.size(); ++i) {
        io::LoadedCase lc;
        try {
            lc = ds.load(i);
        } catch (const Error& e) {
            out.skipped.push_back(ds.case_ref(i).ct_path + ": " + e.what());
            continue;
        }
        const io::Mask* cav = nullptr;
        if (cavity) {
            ICHSEG_CHECK(lc.brain.has_value(), ds.case_ref(i).ct_path,
                         ": no intracranial-cavity mask (brain.nii.gz) for ICM training");
            cav = &*lc.brain;
        }
        if (with_seg) out.seg->add_volume(lc.ct, lc.ich ? &*lc.ich : nullptr, lc.slice_labels, lc.id);
        out.tissue->add_volume(lc.ct, cav, lc.slice_labels, lc.id);
        out.bone->add_volume(lc.ct, cav, lc.slice_labels, lc.id);
        bool ich = lc.labels.any == 1;
        if (lc.ich) {
            const uint8_t* m = lc.ich->voxels.data();
            for (int64_t k = 0; k < lc.ich->voxels.numel() && !ich; ++k) ich = m[k] != 0;
        }
        out.has_ich.push_back(ich);
        out.subtypes.push_back(eval::subtype_bits(lc.labels));
        out.identity.push_back({lc.id, volume_fingerprint(lc.ct)});
    }
    ICHSEG_CHECK(out.num_cases() > 0, ds.name(), ": no readable case");
    return out;
}

/// The pretext set (SPEC §6): all ICH images plus as many random non-ICH images, split into `validation`
/// images (balanced as far as possible) and the rest for training. Deterministic in the seed.
struct PretextSplit {
    std::vector<int64_t> train, validation;
};

inline PretextSplit pretext_split(const io::RsnaDataset& ds, int64_t validation, uint64_t seed) {
    std::vector<int64_t> ich = ds.indices_with_ich(true), non = ds.indices_with_ich(false);
    ICHSEG_CHECK(!ich.empty() && !non.empty(), "RSNA set: the pretext tasks need ICH and non-ICH images (",
                 ich.size(), " ICH, ", non.size(), " non-ICH)");
    data::Rng rng(seed, data::stream_id(0x9e7e, 1));
    auto shuffle = [&](std::vector<int64_t>& v) {
        for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i)
            std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(rng.randint(0, i))]);
    };
    shuffle(ich);
    shuffle(non);
    const size_t n = std::min(ich.size(), non.size());
    ich.resize(n);
    non.resize(n);
    const size_t v = static_cast<size_t>(std::min<int64_t>(validation, static_cast<int64_t>(n)));  // per class: v/2
    const size_t vi = v / 2, vn = v - vi;
    ICHSEG_CHECK(vi < n && vn < n, "RSNA set: ", 2 * n, " balanced images cannot hold ", validation,
                 " validation images and a training set");
    PretextSplit s;
    s.validation.insert(s.validation.end(), ich.begin(), ich.begin() + static_cast<int64_t>(vi));
    s.validation.insert(s.validation.end(), non.begin(), non.begin() + static_cast<int64_t>(vn));
    s.train.insert(s.train.end(), ich.begin() + static_cast<int64_t>(vi), ich.end());
    s.train.insert(s.train.end(), non.begin() + static_cast<int64_t>(vn), non.end());
    std::sort(s.validation.begin(), s.validation.end());
    std::sort(s.train.begin(), s.train.end());
    return s;
}

}  // namespace ichseg::study
