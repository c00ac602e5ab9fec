/// @file pipeline.hpp (predict; needs ichseg::io)
/// @brief One case end to end, as `ichseg_predict` runs it: read the input (input.hpp), segment (segmenter.hpp),
/// write the outputs (output.hpp, dicom_seg.hpp). The program only parses options and loops over cases.
///
/// Outputs of case <id> in the output folder (docs/predict.md §2):
///   <id>_seg.nii.gz      uint8 0/1 mask, intent LABEL, source grid and affine (always)
///   <id>_report.json     report + input (series chosen, what was left out) + models + options + timings (always)
///   <id>_slices.csv      one row per slice: z, voxels, area, extent, max probability (always)
///   <id>_prob.nii.gz     float32 ICH sigmoid on the network grid (S x S x nz) with its own affine (--probabilities)
///   <id>_cavity.nii.gz   uint8 intracranial cavity mask on the source grid (--cavity; needs the ICM models)
///   <id>_seg.dcm         DICOM SEG referencing the source series (--dicom-seg; DICOM inputs only)
///   <id>_qc.png          QC montage: the slices with hemorrhage, outlined over the brain window (--qc; qc.hpp)
/// Every case is checked for looking like a head CT (head_check.hpp: DICOM body part, body size, fat, lung, skull,
/// and with the ICM models an intracranial cavity); a case that does not is reported (console, JSON, CSV message)
/// and still segmented, unless `refuse_non_head`, which makes it an error (nothing written).
/// All are written to temporary files first and published only after the whole case succeeded, each without
/// replacing an existing file unless `overwrite` (then atomically).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ichseg/io/atomic_file.hpp"
#include "ichseg/predict/dicom_seg.hpp"
#include "ichseg/predict/head_check.hpp"
#include "ichseg/predict/input.hpp"
#include "ichseg/predict/output.hpp"
#include "ichseg/predict/qc.hpp"
#include "ichseg/predict/report.hpp"
#include "ichseg/predict/segmenter.hpp"

namespace ichseg::predict {

struct RunOptions {
    std::string out_dir = ".";
    bool overwrite = false;
    bool write_probabilities = false;
    bool write_cavity = false;
    bool write_dicom_seg = false;
    bool write_qc = false;          ///< <id>_qc.png
    bool refuse_non_head = false;   ///< a case that does not look like a head CT is an error
    InputOptions input;
};

struct CaseOutputs {
    std::string mask, report_json, slices_csv, probabilities, cavity, dicom_seg, qc;
    std::vector<std::string> all() const {
        std::vector<std::string> v;
        for (const auto* s : {&mask, &report_json, &slices_csv, &probabilities, &cavity, &dicom_seg, &qc})
            if (!s->empty()) v.push_back(*s);
        return v;
    }
};

/// The output paths of a case (`is_dicom`: the input is a folder, so a DICOM SEG can be made).
inline CaseOutputs case_outputs(const RunOptions& o, const std::string& id, bool is_dicom, bool has_icm) {
    const std::string base = o.out_dir + "/" + id;
    CaseOutputs c;
    c.mask = base + "_seg.nii.gz";
    c.report_json = base + "_report.json";
    c.slices_csv = base + "_slices.csv";
    if (o.write_probabilities) c.probabilities = base + "_prob.nii.gz";
    if (o.write_cavity && has_icm) c.cavity = base + "_cavity.nii.gz";
    if (o.write_dicom_seg && is_dicom) c.dicom_seg = base + "_seg.dcm";
    if (o.write_qc) c.qc = base + "_qc.png";
    return c;
}

struct CaseResult {
    std::string id, input;
    bool ok = false;
    std::string message;              ///< error message when !ok
    std::string summary;              ///< what was read
    std::vector<std::string> notes;   ///< what was left out / warnings
    HeadCheck head_check;             ///< does the input look like a head CT
    Report report;
    CaseOutputs outputs;
    double seconds_read = 0, seconds_inference = 0, seconds_postprocess = 0, seconds_write = 0, seconds_total = 0;
};

inline nlohmann::json case_result_json(const CaseResult& r, bool with_slices = false) {
    nlohmann::json j;
    j["case"] = r.id;
    j["input"] = r.input;
    j["status"] = r.ok ? "ok" : "error";
    if (!r.ok) j["error"] = r.message;
    j["summary"] = r.summary;
    j["notes"] = r.notes;
    if (r.ok) {
        j["input_check"] = head_check_json(r.head_check);
        j["report"] = report_json(r.report, with_slices);
        nlohmann::json o;
        o["mask"] = r.outputs.mask;
        o["report"] = r.outputs.report_json;
        o["slices_csv"] = r.outputs.slices_csv;
        if (!r.outputs.probabilities.empty()) o["probabilities"] = r.outputs.probabilities;
        if (!r.outputs.cavity.empty()) o["cavity"] = r.outputs.cavity;
        if (!r.outputs.dicom_seg.empty()) o["dicom_seg"] = r.outputs.dicom_seg;
        if (!r.outputs.qc.empty()) o["qc"] = r.outputs.qc;
        j["outputs"] = o;
        j["seconds"] = {{"read", r.seconds_read},
                        {"inference", r.seconds_inference},
                        {"postprocess", r.seconds_postprocess},
                        {"write", r.seconds_write},
                        {"total", r.seconds_total}};
    }
    return j;
}

/// Run one case. Throws ichseg::Error (naming the input or output) on any problem; nothing is published then.
/// `say` receives one-line messages for the user (series chosen, what was left out).
inline CaseResult run_case(Segmenter& seg, const CaseInput& c, const RunOptions& o, const ProgressFn& progress = {},
                           const std::function<void(const std::string&)>& say = {}) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    CaseResult r;
    r.id = c.id;
    r.input = c.path;
    LoadedInput in = load_input(c.path, o.input);
    r.summary = in.summary;
    r.notes = in.notes;
    if (say) {
        say(in.summary);
        for (const auto& n : in.notes) say("  " + n);
    }
    r.seconds_read = detail::seconds_since(t0);
    const bool is_dicom = in.format == "dicom";
    r.outputs = case_outputs(o, c.id, is_dicom, seg.has_icm());
    if (o.write_dicom_seg && !is_dicom && say) say("  no DICOM SEG for a NIfTI input (there is no source series to reference)");
    ProtectedFiles inputs;
    inputs.add(c.path);
    inputs.add_all(in.ct.source.files);
    check_outputs_free(r.outputs.all(), o.overwrite, inputs);
    r.head_check = check_head_like(in.ct);
    if (o.refuse_non_head && !r.head_check.looks_like_head)
        fail(c.path, ": ", head_check_summary(r.head_check), " (refused: --refuse-non-head)");

    const bool keep_prob = seg.options().keep_probabilities, keep_cav = seg.options().keep_cavity;
    seg.options().keep_probabilities = o.write_probabilities;
    seg.options().keep_cavity = o.write_cavity;
    SegmentationResult sr;
    try {
        sr = seg.segment(in.ct, progress);
    } catch (...) {
        seg.options().keep_probabilities = keep_prob;
        seg.options().keep_cavity = keep_cav;
        throw;
    }
    seg.options().keep_probabilities = keep_prob;
    seg.options().keep_cavity = keep_cav;
    if (sr.cavity_voxels >= 0) {
        add_cavity_check(r.head_check, static_cast<double>(sr.cavity_voxels) * std::fabs(in.ct.affine.det3()) / 1000.0);
        if (o.refuse_non_head && !r.head_check.looks_like_head)
            fail(c.path, ": ", head_check_summary(r.head_check), " (refused: --refuse-non-head)");
    }
    if (!r.head_check.looks_like_head) {
        r.notes.push_back("warning: " + head_check_summary(r.head_check));
        if (say) say("  WARNING: " + head_check_summary(r.head_check) + "; the mask is written anyway (--refuse-non-head refuses such inputs)");
    }
    r.report = sr.report;
    r.report.case_id = c.id;
    r.seconds_inference = sr.seconds_inference;
    r.seconds_postprocess = sr.seconds_postprocess;

    const auto tw = clock::now();
    // Stage every file under a temporary name, then publish them all.
    struct Staged {
        std::string tmp, final_path;
    };
    std::vector<Staged> staged;
    auto discard = [&] {
        for (const auto& s : staged) ::unlink(s.tmp.c_str());
    };
    try {
        auto stage_nifti = [&](const std::string& final_path, const auto& img, const io::NiftiWriteOptions& wo) {
            const std::string tmp = detail::temp_name_for(final_path, ".nii.gz");
            staged.push_back({tmp, final_path});
            io::detail::write_nifti_impl(tmp, img, wo);
        };
        auto stage_text = [&](const std::string& final_path, const std::string& text) {
            const std::string tmp = detail::temp_name_for(final_path, ".tmp");
            staged.push_back({tmp, final_path});
            io::write_file_atomic(tmp, text);
        };
        io::NiftiWriteOptions mo;
        mo.dtype = io::NiftiDtype::uint8;
        mo.intent_code = NIFTI_INTENT_LABEL;
        mo.description = "ichseg ICH mask";
        stage_nifti(r.outputs.mask, sr.mask, mo);
        if (!r.outputs.cavity.empty()) {
            mo.description = "ichseg intracranial cavity";
            stage_nifti(r.outputs.cavity, sr.cavity, mo);
        }
        if (!r.outputs.probabilities.empty()) {
            io::NiftiWriteOptions po;
            po.dtype = io::NiftiDtype::float32;
            po.description = "ichseg ICH sigmoid, network grid";
            stage_nifti(r.outputs.probabilities, sr.probabilities, po);
        }
        if (!r.outputs.dicom_seg.empty()) {
            // write_dicom_seg publishes itself; write it to a private temporary final name first.
            const std::string tmp = detail::temp_name_for(r.outputs.dicom_seg, ".dcm");
            staged.push_back({tmp, r.outputs.dicom_seg});
            write_dicom_seg(tmp, sr.mask, in.series, false, nullptr);
        }
        stage_text(r.outputs.slices_csv, slices_csv(r.report));
        if (!r.outputs.qc.empty()) {
            std::string title = c.id + "  (model " + std::filesystem::path(seg.ich_model().path).filename().string() +
                                (seg.has_icm() ? " + ICM)" : ", no ICM)");
            std::vector<std::string> warn;
            if (!r.head_check.looks_like_head) warn.push_back("WARNING: " + head_check_summary(r.head_check));
            stage_text(r.outputs.qc, qc_png(in.ct, sr.mask, r.report, title, warn));
        }
        r.seconds_write = detail::seconds_since(tw);
        r.seconds_total = detail::seconds_since(t0);
        r.ok = true;
        nlohmann::json j = case_result_json(r, true);
        j["input_details"] = in.details;
        j["models"] = seg.describe();
        j["report_definitions"] = "docs/predict.md section 4";
        stage_text(r.outputs.report_json, j.dump(2) + "\n");
        for (size_t i = 0; i < staged.size(); ++i) {
            try {
                publish_file(staged[i].tmp, staged[i].final_path, o.overwrite, &inputs);
            } catch (...) {
                for (size_t k = i + 1; k < staged.size(); ++k) ::unlink(staged[k].tmp.c_str());
                throw;
            }
        }
    } catch (...) {
        r.ok = false;
        discard();
        throw;
    }
    return r;
}

}  // namespace ichseg::predict
