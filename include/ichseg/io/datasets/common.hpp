/// @file common.hpp
/// @brief What every volume dataset layout (PhysioNet CT-ICH, CQ500, Seg-CQ500) yields, and small filesystem
/// helpers shared by the layout readers. (RSNA is slice-based: see rsna.hpp.)
///
/// The API the study pipeline consumes:
/// ```
///   io::PhysioNetDataset ds("/data/ct-ich-1.3.1");        // scans the tree, reads the CSVs, validates headers
///   for (const io::Skipped& s : ds.skipped()) ...           // what was left out and why (also logged)
///   for (int64_t i = 0; i < ds.size(); ++i) {
///       const io::CaseRef& c = ds.case_ref(i);              // id, paths, volume + slice labels (no voxels yet)
///       io::LoadedCase lc = ds.load(i);                     // CT in HU, ICH mask, brain mask (when present)
///       // lc.ct.voxels (nz, ny, nx) float HU; lc.ich->voxels (nz, ny, nx) uint8 0/1; lc.slice_labels[k]
///   }
/// ```
/// `load` throws ichseg::Error (naming the file) for a case that became unreadable after the scan.
#pragma once

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/csv.hpp"
#include "ichseg/io/labels.hpp"
#include "ichseg/io/log.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::io {

/// One volume of a layout, as found by the scan (nothing loaded yet).
struct CaseRef {
    std::string id;          ///< "049" (PhysioNet), "CQ500-CT-12" (CQ500, Seg-CQ500)
    std::string ct_path;     ///< NIfTI file, or DICOM series folder
    std::string mask_path;   ///< ICH mask ("" when the layout has none)
    std::string brain_path;  ///< intracranial-cavity mask ("" when absent)
    IchLabels labels;        ///< volume labels from the layout's CSV
    std::vector<IchLabels> slice_labels;  ///< per slice when the layout annotates slices (PhysioNet); else empty
    int64_t nx = 0, ny = 0, nz = 0;       ///< grid size from the header scan
    std::string note;        ///< e.g. the CQ500 series choice
};

/// A loaded volume with its ground truth.
struct LoadedCase {
    std::string id;
    Volume ct;                          ///< HU
    std::optional<Mask> ich;            ///< ICH mask (any value > 0 -> 1)
    std::optional<Mask> brain;          ///< intracranial cavity
    IchLabels labels;                   ///< volume labels
    std::vector<IchLabels> slice_labels;  ///< one per slice (nz); unknown entries are -1
    std::vector<std::string> warnings;  ///< inconsistencies found while loading (also logged)
};

/// Common interface of the volume layouts. Each layout's constructor scans its folder and fills `cases_` and
/// `skipped_`; `load` reads one case.
class VolumeDataset {
public:
    virtual ~VolumeDataset() = default;
    virtual std::string name() const = 0;
    virtual LoadedCase load(int64_t i) const = 0;
    int64_t size() const { return static_cast<int64_t>(cases_.size()); }
    const CaseRef& case_ref(int64_t i) const { return cases_.at(static_cast<size_t>(i)); }
    /// Files / cases / rows left out by the scan, with reasons.
    const std::vector<Skipped>& skipped() const { return skipped_; }

protected:
    std::vector<CaseRef> cases_;
    std::vector<Skipped> skipped_;
};

namespace detail {

namespace fs = std::filesystem;

inline bool is_dir(const std::string& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}
inline bool is_file(const std::string& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}
/// Entry of `dir` whose name equals `name` case-insensitively ("" if none).
inline std::string find_child_ci(const std::string& dir, const std::string& name) {
    std::error_code ec;
    const std::string want = to_lower(name);
    std::vector<std::string> hits;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (to_lower(it->path().filename().string()) == want) hits.push_back(it->path().string());
    std::sort(hits.begin(), hits.end());
    return hits.empty() ? std::string() : hits.front();
}
/// Sorted names of the entries of a folder (files and folders); error when it cannot be listed.
inline std::vector<std::string> list_dir(const std::string& dir) {
    std::error_code ec;
    std::vector<std::string> out;
    fs::directory_iterator it(dir, ec);
    if (ec) fail(dir, ": cannot list the folder: ", ec.message());
    for (fs::directory_iterator end; !ec && it != end; it.increment(ec)) out.push_back(it->path().filename().string());
    if (ec) fail(dir, ": cannot list the folder: ", ec.message());
    std::sort(out.begin(), out.end());
    return out;
}
inline std::string join(const std::string& a, const std::string& b) { return (fs::path(a) / b).string(); }

/// Message of an Error without a leading "<path>: " (the skip record names the path already).
inline std::string strip_path(const std::string& msg, const std::string& path) {
    if (!path.empty() && msg.compare(0, path.size() + 2, path + ": ") == 0) return msg.substr(path.size() + 2);
    return msg;
}

/// Slice labels from a mask: any = slice non-empty, subtypes unknown.
inline std::vector<IchLabels> slice_labels_from_mask(const Mask& m) {
    std::vector<IchLabels> out(static_cast<size_t>(m.nz()));
    const int64_t plane = m.slice_size();
    for (int64_t k = 0; k < m.nz(); ++k) {
        const uint8_t* p = m.slice(k);
        bool any = false;
        for (int64_t i = 0; i < plane && !any; ++i) any = p[i] != 0;
        out[static_cast<size_t>(k)].any = any ? 1 : 0;
    }
    return out;
}

}  // namespace detail

}  // namespace ichseg::io
