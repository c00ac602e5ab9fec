/// @file score.cpp
/// @brief ichseg_score: score ICH models on the independent phantom family (family B, never used for training):
///   ichseg_score -m study/out/models/physionet/mixed/fold0.safetensors [-m ... more models]
///                --icm-tissue study/out/models/icm_tissue.safetensors --icm-bone study/out/models/icm_bone.safetensors
///                -o score/ [--count 20] [--seed 15] [--size 256] [--volumes score/volumes]
/// Generates `count` family-B volumes (healthy and with hemorrhage, all five subtypes), runs each model through
/// the Segmenter of ichseg_predict (with the ICM when given, and then also without it), and writes
/// <out>/score.json and <out>/score_volumes.csv with per-volume Dice, the mean volume Dice over the hemorrhage
/// volumes and the median predicted volume (mL) on the healthy volumes; one summary line per model on stdout.
/// With --volumes the generated volumes are kept (NIfTI) and reused by later runs with the same options.
/// Everything besides option parsing and printing is in include/ichseg/predict/score.hpp (docs/predict.md §9).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "ichseg/predict/output.hpp"
#include "ichseg/predict/score.hpp"

using namespace ichseg;

int main(int argc, char** argv) {
    CLI::App app{"Score ICH models on the independent phantom family (family B) through the prediction pipeline"};
    std::vector<std::string> models;
    std::string icm_tissue, icm_bone, out_dir, volumes_dir;
    predict::ScoreOptions so;
    predict::SegmenterOptions seg_opt;
    bool overwrite = false, quiet = false;
    app.add_option("-m,--model", models, "ICH model file(s); each is scored on the same volumes")->required();
    app.add_option("--icm-tissue", icm_tissue, "intracranial-cavity model, tissue window (with --icm-bone)");
    app.add_option("--icm-bone", icm_bone, "intracranial-cavity model, bone window (with --icm-tissue)");
    app.add_option("-o,--out", out_dir, "output folder for score.json and score_volumes.csv")->required();
    app.add_option("--count", so.count, "number of volumes")->check(CLI::Range(1, 10000));
    app.add_option("--healthy-fraction", so.healthy_fraction, "share of volumes without hemorrhage")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--seed", so.seed, "seed of the volume set");
    app.add_option("--size", so.size, "in-plane matrix of the volumes")->check(CLI::Range(32, 1024));
    app.add_option("--thickness", so.thickness_mm, "slice thickness in mm (0: family B's mix of 2.5-5 mm)")
        ->check(CLI::Range(0.0, 10.0));
    app.add_option("--slices", so.slices, "slices per volume (0: skull base to vertex)")->check(CLI::Range(0, 400));
    app.add_option("--volumes", volumes_dir, "keep the generated volumes here (NIfTI) and reuse them on later runs");
    app.add_option("--threshold", seg_opt.threshold, "probability threshold (p >= t)")->check(CLI::Range(0.0, 1.0));
    app.add_option("--batch-size", seg_opt.batch_size, "slices per forward pass")->check(CLI::Range(1, 4096));
    app.add_option("--threads", seg_opt.threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 1024));
    app.add_option("--device", seg_opt.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
    app.add_flag("--overwrite", overwrite, "replace existing score files");
    app.add_flag("-q,--quiet", quiet, "print the summary lines only");
    CLI11_PARSE(app, argc, argv);
    seg_opt.check_hu = true;

    const std::string json_path = out_dir + "/score.json", csv_path = out_dir + "/score_volumes.csv";
    std::vector<std::unique_ptr<Segmenter>> segs;
    std::vector<predict::ScoreCase> cases;
    try {
        io::make_dirs(out_dir);
        predict::check_outputs_free({json_path, csv_path}, overwrite, predict::ProtectedFiles{});
        for (const auto& m : models) segs.push_back(std::make_unique<Segmenter>(m, icm_tissue, icm_bone, seg_opt));
        cases = predict::score_set(so);
        if (!volumes_dir.empty()) predict::prepare_volume_dir(volumes_dir, so);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ichseg_score: error: %s\n", e.what());
        return 1;
    }
    if (!quiet)
        std::fprintf(stderr, "%zu model(s)%s, %zu family-B volumes (seed %llu, %lld px), device %s\n", models.size(),
                     icm_tissue.empty() ? "" : " + ICM", cases.size(), static_cast<unsigned long long>(so.seed),
                     static_cast<long long>(so.size), segs[0]->device().is_cuda() ? "cuda" : "cpu");
    std::vector<std::vector<predict::VolumeScore>> scores(models.size());
    nlohmann::json jcases = nlohmann::json::array();
    try {
        for (size_t c = 0; c < cases.size(); ++c) {
            const predict::ScoringVolume v = predict::load_or_make_case(cases[c], so, volumes_dir);
            jcases.push_back({{"case", cases[c].id}, {"seed", cases[c].seed}, {"labels", v.labels.str()},
                              {"truth_ml", v.truth_ml}, {"description", v.description}});
            for (size_t m = 0; m < segs.size(); ++m) {
                scores[m].push_back(predict::score_volume(*segs[m], v, cases[c].id));
                const auto& s = scores[m].back();
                if (!quiet)
                    std::fprintf(stderr, "[%zu/%zu] %-14s model %zu: truth %7.2f mL, predicted %7.2f mL, Dice %.3f\n",
                                 c + 1, cases.size(), cases[c].id.c_str(), m, s.truth_ml, s.pred_ml, s.dice);
            }
        }
        nlohmann::json j;
        j["options"] = predict::score_options_json(so);
        j["icm"] = !icm_tissue.empty();
        j["cases"] = jcases;
        j["models"] = nlohmann::json::array();
        std::string csv = predict::score_csv_header();
        for (size_t m = 0; m < segs.size(); ++m) {
            const predict::ScoreSummary sum = predict::summarize(scores[m]);
            nlohmann::json jm = segs[m]->describe();
            jm["summary"] = predict::summary_json(sum);
            jm["volumes"] = nlohmann::json::array();
            for (const auto& s : scores[m]) {
                jm["volumes"].push_back(predict::volume_score_json(s));
                csv += predict::score_csv_row(models[m], s);
            }
            j["models"].push_back(jm);
            std::printf("%s\n", predict::summary_line(models[m], sum).c_str());
        }
        predict::write_text_output(json_path, j.dump(2) + "\n", overwrite);
        predict::write_text_output(csv_path, csv, overwrite);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ichseg_score: error: %s\n", e.what());
        return 1;
    }
    if (!quiet) std::fprintf(stderr, "wrote %s and %s\n", json_path.c_str(), csv_path.c_str());
    return 0;
}
