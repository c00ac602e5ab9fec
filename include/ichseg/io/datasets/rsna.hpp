/// @file rsna.hpp
/// @brief RSNA Intracranial Hemorrhage Detection 2019 (Flanders et al. 2020), datasets.md §1b:
/// ```
///   <root>/stage_2_train.csv        ID,Label with ID = ID_<imageid>_<type>, types epidural, intraparenchymal,
///                                   intraventricular, subarachnoid, subdural, any (6 rows per image, duplicates exist)
///   <root>/stage_2_train/ID_<imageid>.dcm     one CT slice per file
/// ```
/// The dataset is slice-based: item i is one labelled image. The scan reads the label file (streaming, 4.5 M rows),
/// splits IDs at the last underscore, drops identical duplicate rows, and keeps images that have all six labels and
/// a file; left out with a logged reason: malformed rows, unknown label types, conflicting duplicates, images with
/// missing label types, labelled images without a file. Files without labels are counted (`unlabelled_files`).
/// Pixel data is read on demand by `load(i)` (DICOM -> HU, with the 12-bit quirk fix); a corrupt file (e.g. the
/// short PixelData of ID_6431af929) throws ichseg::Error naming it, so a loader can skip it and go on (the batch
/// loader does). `validate()` reads every file once to find such files up front.
#pragma once

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ichseg/io/csv.hpp"
#include "ichseg/io/datasets/common.hpp"
#include "ichseg/io/dicom.hpp"
#include "ichseg/io/nifti.hpp"  // detail::ends_with

namespace ichseg::io {

/// Index of an RSNA label type, in SPEC-compatible subtype order; 5 = "any"; -1 unknown.
inline int rsna_type_index(std::string_view t) {
    if (t == "epidural") return static_cast<int>(IchSubtype::EDH);
    if (t == "intraparenchymal") return static_cast<int>(IchSubtype::IPH);
    if (t == "intraventricular") return static_cast<int>(IchSubtype::IVH);
    if (t == "subarachnoid") return static_cast<int>(IchSubtype::SAH);
    if (t == "subdural") return static_cast<int>(IchSubtype::SDH);
    if (t == "any") return 5;
    return -1;
}

/// Parsed label file: image id -> labels (complete images only).
struct RsnaLabels {
    std::map<std::string, IchLabels> images;
    std::vector<Skipped> bad;          ///< rows / images that were left out
    int64_t rows = 0, duplicate_rows = 0;
};

inline RsnaLabels parse_rsna_labels(std::string_view text, const std::string& source) {
    RsnaLabels out;
    std::unordered_map<std::string, IchLabels> partial;
    std::set<std::string> conflicting;
    bool header = false;
    int64_t c_id = 0, c_label = 1;
    for_each_csv_record(text, source, [&](const std::vector<std::string>& f, int64_t line) {
        if (!header) {
            header = true;
            c_id = require_column(f, "ID", source);
            c_label = require_column(f, "Label", source);
            return;
        }
        ++out.rows;
        const std::string where = source + ":" + std::to_string(line);
        if (static_cast<int64_t>(f.size()) <= std::max(c_id, c_label)) {
            out.bad.push_back({where, "too few fields"});
            return;
        }
        const std::string_view id = trim(f[static_cast<size_t>(c_id)]);
        const size_t us = id.rfind('_');
        if (us == std::string_view::npos || us == 0 || id.compare(0, 3, "ID_") != 0 || us < 4) {
            out.bad.push_back({where, "ID '" + std::string(id) + "' is not ID_<image>_<type>"});
            return;
        }
        const int type = rsna_type_index(id.substr(us + 1));
        if (type < 0) {
            out.bad.push_back({where, "unknown label type '" + std::string(id.substr(us + 1)) + "'"});
            return;
        }
        int64_t v = -1;
        if (!try_parse_int(f[static_cast<size_t>(c_label)], v) || (v != 0 && v != 1)) {
            out.bad.push_back({where, "label '" + f[static_cast<size_t>(c_label)] + "' is not 0 or 1"});
            return;
        }
        const std::string img(id.substr(0, us));
        IchLabels& l = partial[img];
        int8_t& slot = type == 5 ? l.any : l.subtype[static_cast<size_t>(type)];
        if (slot >= 0) {
            if (slot == v) {
                ++out.duplicate_rows;
            } else {
                conflicting.insert(img);
            }
            return;
        }
        slot = static_cast<int8_t>(v);
    });
    if (!header) fail(source, ": empty file (no header row)");
    for (auto& kv : partial) {
        if (conflicting.count(kv.first)) {
            out.bad.push_back({kv.first, "conflicting duplicate label rows"});
            continue;
        }
        if (kv.second.any < 0 || !kv.second.subtypes_known()) {
            out.bad.push_back({kv.first, "incomplete labels (" + kv.second.str() + ")"});
            continue;
        }
        bool sub = false;
        for (int8_t s : kv.second.subtype) sub = sub || s == 1;
        if (sub && kv.second.any == 0) {
            out.bad.push_back({kv.first, "a subtype is 1 but 'any' is 0"});
            continue;
        }
        out.images.emplace(kv.first, kv.second);
    }
    return out;
}

struct RsnaOptions {
    std::string labels_csv = "stage_2_train.csv";  ///< relative to root (or absolute)
    std::string image_dir = "stage_2_train";       ///< relative to root (or absolute)
    DicomReadOptions dicom;
};

class RsnaDataset {
public:
    explicit RsnaDataset(const std::string& root, const RsnaOptions& opt = {}) : opt_(opt) {
        using namespace detail;
        if (!is_dir(root)) fail(root, ": RSNA folder not found");
        const std::string csv = fs::path(opt.labels_csv).is_absolute() ? opt.labels_csv : join(root, opt.labels_csv);
        image_dir_ = fs::path(opt.image_dir).is_absolute() ? opt.image_dir : join(root, opt.image_dir);
        if (!is_file(csv)) fail(csv, ": RSNA label file not found");
        if (!is_dir(image_dir_)) fail(image_dir_, ": RSNA image folder not found");
        RsnaLabels labels = parse_rsna_labels(read_text_file(csv), csv);
        duplicate_rows_ = labels.duplicate_rows;
        for (const auto& b : labels.bad) record_skip(skipped_, b.path, b.reason);
        std::set<std::string> files;
        for (const std::string& name : list_dir(image_dir_))
            if (name.size() > 4 && detail::ends_with(name, ".dcm")) files.insert(name.substr(0, name.size() - 4));
        for (auto& kv : labels.images) {
            if (!files.count(kv.first)) {
                record_skip(skipped_, join(image_dir_, kv.first + ".dcm"), "labelled image has no file");
                continue;
            }
            ids_.push_back(kv.first);
            labels_.push_back(kv.second);
        }
        for (const auto& f : files)
            if (!labels.images.count(f)) ++unlabelled_;
    }

    int64_t size() const { return static_cast<int64_t>(ids_.size()); }
    const std::string& image_id(int64_t i) const { return ids_.at(static_cast<size_t>(i)); }
    const IchLabels& labels(int64_t i) const { return labels_.at(static_cast<size_t>(i)); }
    std::string path(int64_t i) const { return detail::join(image_dir_, image_id(i) + ".dcm"); }
    const std::vector<Skipped>& skipped() const { return skipped_; }
    int64_t unlabelled_files() const { return unlabelled_; }
    int64_t duplicate_rows() const { return duplicate_rows_; }
    /// Indices of images with (any = 1) / without ICH.
    std::vector<int64_t> indices_with_ich(bool ich) const {
        std::vector<int64_t> v;
        for (int64_t i = 0; i < size(); ++i)
            if ((labels(i).any == 1) == ich) v.push_back(i);
        return v;
    }

    /// One image in HU (throws ichseg::Error naming the file when it is corrupt).
    DicomSlice load(int64_t i) const { return read_dicom_slice(path(i), opt_.dicom); }

    /// Read every image once (in `threads` threads); returns the ones that fail, and records them as skipped.
    /// Later `indices()` excludes them.
    std::vector<Skipped> validate(int threads = 1) {
        std::vector<Skipped> bad;
        std::mutex mu;
        std::atomic<int64_t> next{0};
        std::vector<char> ok(ids_.size(), 1);
        auto work = [&] {
            for (int64_t i; (i = next++) < size();) {
                try {
                    load(i);
                } catch (const Error& e) {
                    std::lock_guard<std::mutex> lock(mu);
                    bad.push_back({path(i), detail::strip_path(e.what(), path(i))});
                    ok[static_cast<size_t>(i)] = 0;
                }
            }
        };
        std::vector<std::thread> pool;
        for (int t = 1; t < std::max(1, threads); ++t) pool.emplace_back(work);
        work();
        for (auto& t : pool) t.join();
        std::sort(bad.begin(), bad.end(), [](const Skipped& a, const Skipped& b) { return a.path < b.path; });
        for (const auto& b : bad) record_skip(skipped_, b.path, b.reason);
        std::vector<std::string> ids;
        std::vector<IchLabels> labs;
        for (size_t i = 0; i < ids_.size(); ++i)
            if (ok[i]) {
                ids.push_back(ids_[i]);
                labs.push_back(labels_[i]);
            }
        ids_.swap(ids);
        labels_.swap(labs);
        return bad;
    }

    /// Group the images into series (SeriesInstanceUID) ordered along the slice normal, from the headers (reads
    /// every header once). Images whose header cannot be read are recorded as skipped.
    std::vector<std::vector<int64_t>> series() {
        std::map<std::string, std::vector<DicomHeader>> by;
        std::map<std::string, int64_t> index;
        for (int64_t i = 0; i < size(); ++i) {
            try {
                DicomHeader h = read_dicom_header(path(i));
                index[h.path] = i;
                by[h.series_uid.empty() ? h.study_uid : h.series_uid].push_back(std::move(h));
            } catch (const Error& e) {
                record_skip(skipped_, path(i), detail::strip_path(e.what(), path(i)));
            }
        }
        std::vector<std::vector<int64_t>> out;
        SeriesReadOptions so;
        for (auto& kv : by) {
            DicomSeries s = detail::build_series(std::move(kv.second), so);
            std::vector<int64_t> v;
            for (const auto& h : s.slices) v.push_back(index[h.path]);
            if (!v.empty()) out.push_back(std::move(v));
        }
        return out;
    }

private:
    RsnaOptions opt_;
    std::string image_dir_;
    std::vector<std::string> ids_;
    std::vector<IchLabels> labels_;
    std::vector<Skipped> skipped_;
    int64_t unlabelled_ = 0, duplicate_rows_ = 0;
};

}  // namespace ichseg::io
