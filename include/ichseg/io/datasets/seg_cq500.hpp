/// @file seg_cq500.hpp
/// @brief Seg-CQ500 (Spahr et al. 2023, Zenodo 8063221), datasets.md §1d:
/// ```
///   <root>/data/volumes/info.csv                         `name` = CQ500-CT-<n>, then optional per-finding columns
///   <root>/data/volumes/CQ500-CT-<n>/CT.nii              CT in HU (may carry a sheared sform: gantry tilt)
///   <root>/data/volumes/CQ500-CT-<n>/ICH_mask.nii.gz     binary ICH mask, same grid
///   <root>/data/volumes/CQ500-CT-<n>/brain.nii.gz        intracranial mask (optional)
/// ```
/// `root` may be the Seg-CQ500 folder, its data/ or its data/volumes/ folder. Cases are the rows of info.csv;
/// left out with a logged reason: rows without a case folder, CT or mask, a CT/mask shape mismatch, a duplicate name,
/// and case folders not listed in info.csv. Volume labels: any = 1 (every Seg-CQ500 case has ICH, as published)
/// unless an "ICH" column says < 0.5. Subtypes: from CQ500's reads.csv (the radiologists' reads, majority of 3:
/// the dataset's ground truth) when it has a row for the case; otherwise from info.csv columns named IPH / IVH /
/// SDH / EDH / SAH (case-insensitive, probabilities thresholded at 0.5, or 0/1) when present; else unknown.
/// reads.csv is `SegCq500Options::reads_csv`, or found (any case) in the volumes folder or up to three folders
/// above it (next to Seg-CQ500/, or in a sibling CQ500/ or cq500/ folder there). Each case's `note` says where its
/// subtypes came from. Slice labels: any from the mask, subtypes unknown (the masks are binary).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ichseg/io/csv.hpp"
#include "ichseg/io/datasets/common.hpp"
#include "ichseg/io/datasets/cq500_reads.hpp"
#include "ichseg/io/datasets/nifti_cases.hpp"
#include "ichseg/io/nifti.hpp"

namespace ichseg::io {

struct SegCq500Options {
    NiftiReadOptions nifti;
    std::string reads_csv;  ///< CQ500's reads.csv for the subtypes (default: searched, see the file comment)
};

class SegCq500Dataset : public VolumeDataset {
public:
    explicit SegCq500Dataset(const std::string& root, const SegCq500Options& opt = {}) : opt_(opt) {
        using namespace detail;
        if (!is_dir(root)) fail(root, ": Seg-CQ500 folder not found");
        for (const char* sub : {"data/volumes", "volumes", ""}) {
            const std::string d = std::string(sub).empty() ? root : join(root, sub);
            if (is_file(join(d, "info.csv"))) {
                volumes_ = d;
                break;
            }
        }
        if (volumes_.empty()) fail(root, ": info.csv not found (looked in data/volumes/, volumes/ and the folder itself)");
        const std::string info = join(volumes_, "info.csv");
        const CsvTable t = read_csv(info);
        if (t.rows.empty()) fail(info, ": empty file (no header row)");
        const auto& h = t.rows[0];
        const int64_t c_name = require_column(h, "name", info);
        const int64_t c_ich = find_column(h, "ICH");
        const char* sub_names[5] = {"EDH", "IPH", "IVH", "SAH", "SDH"};
        int64_t c_sub[5];
        for (int s = 0; s < 5; ++s) c_sub[s] = find_column(h, sub_names[s]);
        std::set<std::string> listed;
        for (size_t r = 1; r < t.rows.size(); ++r) {
            const auto& f = t.rows[r];
            const std::string where = info + ":" + std::to_string(t.lines[r]);
            if (static_cast<int64_t>(f.size()) <= c_name || trim(f[static_cast<size_t>(c_name)]).empty()) {
                record_skip(skipped_, where, "row without a name");
                continue;
            }
            const std::string name(trim(f[static_cast<size_t>(c_name)]));
            if (listed.count(name)) {
                record_skip(skipped_, where, "duplicate name " + name);
                continue;
            }
            listed.insert(name);
            try {
                IchLabels lab;
                lab.any = 1;
                auto prob = [&](int64_t c, const char* what) -> int8_t {
                    if (c < 0) return -1;
                    if (static_cast<int64_t>(f.size()) <= c) fail(info, ": line ", t.lines[r], ": no ", what, " value");
                    double v;
                    if (!try_parse_double(f[static_cast<size_t>(c)], v) || v < 0 || v > 1)
                        fail(info, ": line ", t.lines[r], ": column ", what, ": expected a probability in [0, 1], got '",
                             f[static_cast<size_t>(c)], "'");
                    return v >= 0.5 ? 1 : 0;
                };
                if (c_ich >= 0) lab.any = prob(c_ich, "ICH");
                for (int s = 0; s < 5; ++s) lab.subtype[static_cast<size_t>(s)] = prob(c_sub[s], sub_names[s]);
                const std::string dir = join(volumes_, name);
                if (!is_dir(dir)) fail(dir, ": case folder listed in info.csv is missing");
                std::string ct = join(dir, "CT.nii");
                if (!is_file(ct)) ct = join(dir, "CT.nii.gz");
                if (!is_file(ct)) fail(dir, ": no CT.nii");
                std::string mask = join(dir, "ICH_mask.nii.gz");
                if (!is_file(mask)) mask = join(dir, "ICH_mask.nii");
                if (!is_file(mask)) fail(dir, ": no ICH_mask.nii.gz");
                std::string brain = join(dir, "brain.nii.gz");
                if (!is_file(brain)) brain = join(dir, "brain.nii");
                if (!is_file(brain)) brain.clear();
                const NiftiHeaderInfo hc = detail::read_ct_and_mask_headers(ct, mask, opt_.nifti);
                if (!brain.empty()) {
                    const NiftiHeaderInfo hb = read_nifti_header(brain, opt_.nifti);
                    if (hb.nx() != hc.nx() || hb.ny() != hc.ny() || hb.nz() != hc.nz()) {
                        record_skip(skipped_, brain, "brain mask shape does not match the CT: ignored");
                        brain.clear();
                    }
                }
                CaseRef c = detail::nifti_case_ref(name, ct, mask, hc);
                c.brain_path = brain;
                c.labels = lab;
                cases_.push_back(std::move(c));
            } catch (const Error& e) {
                record_skip(skipped_, join(volumes_, name), e.what());
            }
        }
        for (const std::string& entry : list_dir(volumes_)) {
            const std::string p = join(volumes_, entry);
            if (is_dir(p) && !listed.count(entry)) record_skip(skipped_, p, "case folder not listed in info.csv");
        }
        apply_reads(find_reads_csv());
    }

    /// The reads.csv whose subtypes were used ("" when none was found).
    const std::string& reads_csv() const { return reads_; }

    std::string name() const override { return "seg-cq500"; }
    const std::string& volumes_folder() const { return volumes_; }

    LoadedCase load(int64_t i) const override {
        const CaseRef& c = case_ref(i);
        LoadedCase lc = detail::load_ct_and_mask(c, opt_.nifti, "ICH mask");
        if (!c.brain_path.empty()) {
            lc.brain = read_nifti_mask(c.brain_path, opt_.nifti);
            check_same_grid(lc.ct, *lc.brain, "brain mask");
        }
        lc.labels = c.labels;
        lc.slice_labels = detail::slice_labels_from_mask(*lc.ich);
        bool any = false;
        for (const auto& l : lc.slice_labels) any = any || l.any == 1;
        if (lc.labels.any == 1 && !any) {
            lc.warnings.push_back("labelled ICH but the mask is empty");
            log(LogLevel::warn, c.mask_path, ": ", lc.warnings.back());
        }
        return lc;
    }

private:
    std::string find_reads_csv() const {
        using namespace detail;
        if (!opt_.reads_csv.empty()) {
            if (!is_file(opt_.reads_csv)) fail(opt_.reads_csv, ": reads.csv not found");
            return opt_.reads_csv;
        }
        fs::path dir = fs::absolute(fs::path(volumes_)).lexically_normal();
        for (int up = 0; up <= 3 && !dir.empty(); ++up, dir = dir.parent_path()) {
            for (const char* sub : {"", "CQ500", "cq500"}) {
                const std::string d = std::string(sub).empty() ? dir.string() : join(dir.string(), sub);
                if (!is_dir(d)) continue;
                const std::string r = find_child_ci(d, "reads.csv");
                if (!r.empty()) return r;
            }
            if (dir == dir.parent_path()) break;
        }
        return "";
    }

    /// Subtypes of every case from the readers' majority where reads.csv has the case (SPEC §8, Figure 3).
    void apply_reads(const std::string& path) {
        reads_ = path;
        if (path.empty()) {
            for (CaseRef& c : cases_) c.note = c.labels.subtypes_known() ? "subtypes from info.csv" : "subtypes unknown";
            return;
        }
        std::vector<Skipped> bad;
        const std::map<int64_t, Cq500Reads> reads = parse_cq500_reads(read_text_file(path), path, &bad);
        for (auto& b : bad) skipped_.push_back(b);
        int64_t used = 0;
        for (CaseRef& c : cases_) {
            const auto it = reads.find(cq500_number(c.id));
            if (it == reads.end()) {
                c.note = c.labels.subtypes_known() ? "subtypes from info.csv (no row in " + path + ")"
                                                   : "subtypes unknown (no row in " + path + ")";
                continue;
            }
            const IchLabels m = it->second.majority();
            for (size_t k = 0; k < c.labels.subtype.size(); ++k) c.labels.subtype[k] = m.subtype[k];
            c.note = "subtypes from " + path + " (majority of 3 readers)";
            ++used;
        }
        log(LogLevel::info, "Seg-CQ500: subtypes of ", used, " of ", cases_.size(), " case(s) from ", path);
    }

    SegCq500Options opt_;
    std::string volumes_;
    std::string reads_;
};

}  // namespace ichseg::io
