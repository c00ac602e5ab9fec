/// @file predict.cpp
/// @brief ichseg_predict: segment intracranial hemorrhage in head CT with a trained model file.
///   ichseg_predict --model ich.safetensors --icm-tissue icm_tissue.safetensors --icm-bone icm_bone.safetensors
///                  -o out/ scan.nii.gz "/data/PACS export/patient 12/" more_cases/ --batch
/// Inputs: NIfTI files, DICOM folders (the axial CT series is chosen and named), or with --batch folders whose
/// NIfTI files and subfolders are cases (a folder holding NIfTI files is a batch folder anyway). For each case it
/// writes <case>_seg.nii.gz, <case>_report.json, <case>_slices.csv (+ optional outputs), and for the run
/// <report>.json / <report>.csv. Existing files are never replaced without --overwrite, inputs never.
/// Every case is checked for looking like a head CT (warned about, or refused with --refuse-non-head); --qc writes
/// a PNG montage of the slices with hemorrhage.
/// Exit status: 0 when every case succeeded, 1 otherwise (each failure is printed and listed in the run report).
/// Everything besides option parsing and printing is in include/ichseg/predict/ (docs/predict.md).
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "ichseg/predict/predict.hpp"

using namespace ichseg;

int main(int argc, char** argv) {
    CLI::App app{"Segment intracranial hemorrhage in head CT (NIfTI files or DICOM folders) with an ichseg model"};
    std::vector<std::string> inputs;
    std::string model, icm_tissue, icm_bone, report_name = "predict_report", resample = "bilinear";
    predict::RunOptions ro;
    predict::SegmenterOptions so;
    bool batch = false, quiet = false, no_hu_check = false;
    app.add_option("inputs", inputs, "NIfTI files (.nii, .nii.gz), DICOM folders, or batch folders")->required();
    app.add_option("-o,--out", ro.out_dir, "output folder (created if missing)")->required();
    app.add_option("-m,--model", model, "ICH model file (.safetensors with ichseg metadata)")->required();
    app.add_option("--icm-tissue", icm_tissue, "intracranial-cavity model, tissue window (with --icm-bone)");
    app.add_option("--icm-bone", icm_bone, "intracranial-cavity model, bone window (with --icm-tissue)");
    app.add_flag("--batch", batch, "each NIfTI file and subfolder of an input folder is a case");
    app.add_flag("--overwrite", ro.overwrite, "replace existing outputs (inputs are never replaced)");
    app.add_flag("--probabilities", ro.write_probabilities, "also write <case>_prob.nii.gz (float32 sigmoid, network grid)");
    app.add_flag("--cavity", ro.write_cavity, "also write <case>_cavity.nii.gz (intracranial cavity; needs the ICM models)");
    app.add_flag("--dicom-seg", ro.write_dicom_seg, "also write <case>_seg.dcm, a DICOM SEG referencing the source series");
    app.add_option("--series", ro.input.series_uid, "DICOM: use this SeriesInstanceUID");
    app.add_flag("--prefer-thin", ro.input.prefer_thin, "DICOM: prefer the thinnest series (default: closest to 5 mm)");
    app.add_flag("--allow-missing-slices", ro.input.allow_missing_slices, "DICOM: accept a series with missing slices");
    app.add_flag("--allow-uneven-spacing", ro.input.allow_uneven_spacing, "DICOM: accept uneven slice spacing");
    app.add_flag("--skip-unreadable", ro.input.skip_unreadable, "DICOM: ignore unreadable files instead of failing");
    app.add_flag("--strict", ro.input.strict, "DICOM: fail when anything in the folder is left out (localizers, other series)");
    app.add_flag("--no-hu-check", no_hu_check, "do not refuse volumes that do not look like head CT in HU");
    app.add_flag("--qc", ro.write_qc, "also write <case>_qc.png, a montage of the slices with hemorrhage (outlined)");
    app.add_flag("--refuse-non-head", ro.refuse_non_head,
                 "refuse (no outputs) a case that does not look like a head CT instead of warning");
    app.add_option("--threshold", so.threshold, "probability threshold (p >= t)")->check(CLI::Range(0.0, 1.0));
    app.add_option("--resample", resample, "back to the native grid: bilinear (probabilities) or nearest (masks)")
        ->check(CLI::IsMember({"bilinear", "nearest"}));
    app.add_option("--batch-size", so.batch_size, "slices per forward pass")->check(CLI::Range(1, 4096));
    app.add_option("--threads", so.threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 1024));
    app.add_option("--device", so.device, "where the networks run: auto (GPU when built with CUDA and present), cpu, cuda")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
    app.add_option("--report", report_name, "name of the run report files <out>/<name>.json and .csv");
    std::string precision = "fp32";
    app.add_option("--precision", precision,
                   "fp32, or bf16: BF16 products with FP32 accumulation (AMX or AVX512_BF16; FP32 where the CPU build "
                   "has neither, said in the log)")
        ->check(CLI::IsMember({"fp32", "bf16"}));
    app.add_flag("-q,--quiet", quiet, "print errors only");
    CLI11_PARSE(app, argc, argv);
    so.resample = resample == "nearest" ? predict::MaskResample::nearest : predict::MaskResample::bilinear;
    so.check_hu = !no_hu_check;
    auto say = [&](const std::string& s) {
        if (!quiet) std::fprintf(stderr, "%s\n", s.c_str());
    };
    auto error = [](const std::string& s) { std::fprintf(stderr, "ichseg_predict: error: %s\n", s.c_str()); };

    std::vector<predict::CaseInput> cases;
    std::unique_ptr<Segmenter> seg;
    const std::string run_json = ro.out_dir + "/" + report_name + ".json", run_csv = ro.out_dir + "/" + report_name + ".csv";
    try {
        std::vector<std::string> notes;
        cases = predict::find_cases(inputs, batch, &notes);
        for (const auto& n : notes) say("note: " + n);
        std::error_code ec;
        std::filesystem::create_directories(ro.out_dir, ec);
        if (!std::filesystem::is_directory(ro.out_dir, ec)) fail(ro.out_dir, ": cannot create the output folder");
        // Fail fast, before loading anything, when outputs exist or would land on an input.
        predict::ProtectedFiles protect;
        std::vector<std::string> outs{run_json, run_csv};
        for (const auto& c : cases) {
            protect.add(c.path);
            const bool dir = std::filesystem::is_directory(c.path, ec);
            for (const auto& o : predict::case_outputs(ro, c.id, dir, !icm_tissue.empty()).all()) outs.push_back(o);
        }
        predict::check_outputs_free(outs, ro.overwrite, protect);
        so.precision = parse_precision(precision, "--precision");
        seg = std::make_unique<Segmenter>(model, icm_tissue, icm_bone, so);
        if (ro.write_cavity && !seg->has_icm()) say("note: --cavity needs --icm-tissue and --icm-bone; no cavity written");
        say("model " + model + (seg->has_icm() ? " + ICM (" + icm_tissue + ", " + icm_bone + ")" : " (no ICM)") + ", " +
            std::to_string(cases.size()) + " case(s), " + std::to_string(num_threads()) + " thread(s), device " +
            (seg->device().is_cuda() ? "cuda, precision " + precision : "cpu, " + cpu::describe_precision(so.precision)));
    } catch (const std::exception& e) {
        error(e.what());
        return 1;
    }

    const bool tty = ::isatty(2) && !quiet;
    std::vector<predict::CaseResult> results;
    std::string csv = predict::summary_csv_header();
    int failures = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto& c = cases[i];
        say("[" + std::to_string(i + 1) + "/" + std::to_string(cases.size()) + "] " + c.id + ": " + c.path);
        auto t_stage = std::chrono::steady_clock::now();
        auto progress = [&](const predict::Progress& p) {
            if (tty) std::fprintf(stderr, "\r  %-11s %4lld/%lld slices  %3.0f%%", p.stage.c_str(), (long long)p.done,
                                  (long long)p.total, 100 * p.fraction);
            if (p.done == p.total && !quiet) {
                const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_stage).count();
                if (tty) std::fprintf(stderr, "\r");
                std::fprintf(stderr, "  %-11s %lld slices in %.1f s%s\n", p.stage.c_str(), (long long)p.total, s,
                             tty ? "          " : "");
                t_stage = std::chrono::steady_clock::now();
            }
        };
        predict::CaseResult r;
        try {
            r = predict::run_case(*seg, c, ro, progress, say);
            char line[256];
            std::snprintf(line, sizeof line, "  hemorrhage %.2f mL, %lld slice(s), largest axial extent %.1f mm -> %s",
                          r.report.volume_ml, (long long)r.report.slices_involved, r.report.largest_axial_extent_mm,
                          r.outputs.mask.c_str());
            say(line);
            if (quiet && !r.head_check.looks_like_head)
                std::fprintf(stderr, "ichseg_predict: warning: %s: %s\n", c.id.c_str(),
                             predict::head_check_summary(r.head_check).c_str());
        } catch (const std::exception& e) {
            if (tty) std::fprintf(stderr, "\n");
            r.id = c.id;
            r.report.case_id = c.id;  // the run CSV names the failed case too
            r.input = c.path;
            r.ok = false;
            r.message = e.what();
            error(c.id + ": " + r.message);
            ++failures;
        }
        const std::string message = r.ok ? (r.head_check.looks_like_head ? "" : "warning: " + predict::head_check_summary(r.head_check))
                                         : r.message;
        csv += predict::summary_csv_row(r.report, r.ok ? "ok" : "error", r.input, r.ok ? r.outputs.mask : "", message);
        results.push_back(std::move(r));
    }
    try {
        nlohmann::json j;
        j["cases"] = nlohmann::json::array();
        for (const auto& r : results) j["cases"].push_back(predict::case_result_json(r));
        j["models"] = seg->describe();
        j["failures"] = failures;
        predict::write_text_output(run_json, j.dump(2) + "\n", ro.overwrite);
        predict::write_text_output(run_csv, csv, ro.overwrite);
    } catch (const std::exception& e) {
        error(e.what());
        return 1;
    }
    say(std::to_string(cases.size() - static_cast<size_t>(failures)) + " of " + std::to_string(cases.size()) +
        " case(s) done; report " + run_json);
    return failures ? 1 : 0;
}
