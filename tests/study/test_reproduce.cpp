/// @file test_reproduce.cpp (study)
/// @brief The study end to end in miniature (tiny profile: 32 px phantoms, 2 folds, the same code path as the
/// quick and paper profiles): all 10 Table 3 rows with numbers, every figure as a PNG, per-row CSV and
/// summary.json, p-value CSVs, transfer reports; a rerun skips every finished unit; an output folder made with
/// another config is refused; kill -9 of ichseg_reproduce during training, then the same command resumes from
/// the checkpoint and finishes with valid files and no temporary file left.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ichseg/study/pipeline.hpp"
#include "study_test_util.hpp"
#include "support/errors.hpp"

namespace test_study_reproduce {

using namespace ichseg;
namespace fs = std::filesystem;

using test::read_file;

std::string fresh_dir(const std::string& name) { return test::fresh_dir("study_reproduce", name); }

bool is_png(const std::string& path) {
    const std::string b = read_file(path);
    return b.size() > 64 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

std::vector<std::string> temporaries(const std::string& root) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path().string());
    return out;
}

int64_t count_lines(const std::string& text) { return static_cast<int64_t>(std::count(text.begin(), text.end(), '\n')); }

study::StudyOptions tiny_options(const std::string& dir) {
    study::StudyOptions o;
    o.config = study::profile_config("tiny");
    o.config.threads = 2;
    o.data_root = dir + "/data";
    o.out = dir + "/out";
    o.generate_phantoms = true;
    o.progress = false;
    o.log = [](const std::string&) {};
    return o;
}

TEST_CASE("tiny reproduction: 10 rows, every figure and table, and a rerun skips everything", "[study][reproduce]") {
    const std::string dir = fresh_dir("full");
    const study::StudyOptions o = tiny_options(dir);
    const study::StudyResult r = study::run_study(o);
    CHECK(r.units_skipped == 0);
    // phantoms + 2 ICM nets + 6 pretext models + 6 t-SNE figures + 8 methods x (2 + 2) folds + the report
    CHECK(r.units_run == 1 + 2 + 6 + 6 + 8 * (o.config.physionet_folds + o.config.segcq500_folds) + 1);
    CHECK(r.complete);

    // Table 3: every row with numbers in every column (no "–" for a missing dataset).
    const std::string table = read_file(o.out + "/tables/table3.md");
    CHECK(table == r.table3);
    for (const auto& row : study::table3_rows()) {
        INFO("row " << row.title);
        const auto pos = table.find("| " + row.title + " |");
        REQUIRE(pos != std::string::npos);
        const std::string line = table.substr(pos, table.find('\n', pos) - pos);
        CHECK(line.find("–") == std::string::npos);
        CHECK(std::count(line.begin(), line.end(), '|') == 9);
    }

    // Figures 3 (box plots), 4 (p-value heatmaps) and 5 (one t-SNE per pretext model) as PNG.
    for (const std::string f : {"figure3_physionet", "figure3_segcq500", "figure4_physionet", "figure4_physionet_ich",
                                "figure4_segcq500"})
        CHECK(is_png(o.out + "/figures/" + f + ".png"));
    for (study::Pretext p : study::all_pretexts())
        CHECK(is_png(o.out + "/figures/figure5_" + study::pretext_key(p) + ".png"));

    // Table 3's transfer rows are the models WITHOUT the ICM (SPEC §7): each cell equals the mean of the
    // unmasked per-volume results of the fold files; their "+ ICM" variants stand beside them in table3_full.md
    // with the masked means.
    const std::string full_table = read_file(o.out + "/tables/table3_full.md");
    auto line_of = [](const std::string& t, const std::string& title) {
        const auto pos = t.find("| " + title + " |");
        REQUIRE(pos != std::string::npos);
        return t.substr(pos, t.find('\n', pos) - pos);
    };
    auto mean_dice = [&](const std::string& ds, const std::string& method, const char* variant, bool ich_only) {
        const int k = ds == "physionet" ? o.config.physionet_folds : o.config.segcq500_folds;
        double sum = 0;
        int n = 0;
        for (int f = 0; f < k; ++f) {
            const std::string path = o.out + "/results/" + ds + "/" + method + "/fold" + std::to_string(f) + ".json";
            for (const auto& v : eval::volumes_from_json(io::read_json_file(path).at(variant), path)) {
                if (ich_only && !v.has_ich) continue;
                sum += v.dice();
                ++n;
            }
        }
        return io::format("%.2f", 100 * sum / n);
    };
    int transfer_rows = 0;
    for (const auto& row : study::table3_rows()) {
        if (row.method == "mixed" || row.method == "ich_only") continue;
        ++transfer_rows;
        INFO("row " << row.title);
        CHECK_FALSE(row.icm);
        const std::string line = line_of(table, row.title), icm_line = line_of(full_table, row.title + " + ICM");
        for (const bool ich : {false, true}) {
            CHECK(line.find(mean_dice("physionet", row.method, "plain", ich)) != std::string::npos);
            CHECK(icm_line.find(mean_dice("physionet", row.method, "icm", ich)) != std::string::npos);
        }
        CHECK(line.find(mean_dice("segcq500", row.method, "plain", false)) != std::string::npos);
        CHECK(icm_line.find(mean_dice("segcq500", row.method, "icm", false)) != std::string::npos);
        CHECK(table.find(row.title + " + ICM") == std::string::npos);  // never in Table 3 itself
        // the variant follows its row in table3_full.md
        CHECK(full_table.find("| " + row.title + " + ICM |") > full_table.find("| " + row.title + " |"));
    }
    CHECK(transfer_rows == 6);
    CHECK(line_of(table, "U-Net mixed").find(mean_dice("physionet", "mixed", "plain", false)) != std::string::npos);
    CHECK(line_of(table, "U-Net mixed + ICM").find(mean_dice("physionet", "mixed", "icm", false)) != std::string::npos);

    // Per-volume CSV: header + one line per row (Table 3's 10 and the 6 "+ ICM" variants) and volume; summary.json
    // per row covers every volume.
    const int64_t n_physio = o.config.phantom_physionet, n_cq = o.config.phantom_segcq500;
    CHECK(study::all_rows().size() == 16u);
    CHECK(count_lines(read_file(o.out + "/tables/physionet_volumes.csv")) == 1 + 16 * n_physio);
    CHECK(count_lines(read_file(o.out + "/tables/segcq500_volumes.csv")) == 1 + 16 * n_cq);
    for (const auto& row : study::all_rows()) {
        const std::string d = o.out + "/results/physionet/rows/" + study::detail::slug(row.title);
        const nlohmann::json s = io::read_json_file(d + "/summary.json");
        CHECK(s.at("metric_per_case").size() == static_cast<size_t>(n_physio));
        CHECK(s.at("ichseg").at("method") == row.title);
        CHECK(count_lines(read_file(d + "/volumes.csv")) == 1 + n_physio);
    }
    // p-values between Table 3's 10 rows (Figure 4), and between the 8 masked rows only (like with like)
    for (const std::string ds : {"physionet", "segcq500", "physionet_ich"})
        for (const std::string m : {"dice", "precision", "recall"}) {
            CHECK(count_lines(read_file(o.out + "/tables/pvalues_" + ds + "_" + m + ".csv")) == 11);
            const std::string masked = read_file(o.out + "/tables/pvalues_" + ds + "_icm_" + m + ".csv");
            CHECK(count_lines(masked) == 9);
            CHECK(masked.find("U-Net mixed + ICM") != std::string::npos);
            CHECK(masked.find("Local contrastive + ICM") != std::string::npos);
        }

    // Transfer reports: context restoration copies the whole U-Net, the classification / contrastive models
    // only the encoder (the decoder stays at its initialisation), local contrastive the first decoder blocks too.
    auto transfer = [&](const std::string& m) {
        return io::read_json_file(o.out + "/results/physionet/" + m + "/fold0.transfer.json");
    };
    CHECK(transfer("context_restoration").at("missing").empty());
    for (const std::string m : {"global_contrastive", "binary", "multilabel_ce", "multilabel_dl"}) {
        const auto t = transfer(m);
        CHECK(!t.at("copied").empty());
        for (const auto& k : t.at("copied")) CHECK(k.get<std::string>().rfind("encoder.", 0) == 0);
        CHECK(!t.at("missing").empty());
    }
    bool local_has_decoder = false;
    const nlohmann::json local = transfer("local_contrastive");
    for (const auto& k : local.at("copied"))
        local_has_decoder = local_has_decoder || k.get<std::string>().rfind("decoder.", 0) == 0;
    CHECK(local_has_decoder);

    // The model files are what ichseg_predict loads: ICM models segment the cavity in their own windows, fold
    // models segment ICH in the segmentation window at the study's input size.
    {
        nn::ModelInfo info;
        nn::load_model<float>(o.out + "/models/icm_tissue.safetensors", &info);
        CHECK(info.target == "cavity");
        CHECK(info.window_lo == data::Window::tissue().lo);
        nn::load_model<float>(o.out + "/models/icm_bone.safetensors", &info);
        CHECK(info.target == "cavity");
        CHECK(info.window_hi == data::Window::bone().hi);
        nn::load_model<float>(o.out + "/models/physionet/mixed/fold0.safetensors", &info);
        CHECK(info.target == "ich");
        CHECK(info.window_lo == data::Window::segmentation().lo);
        CHECK(info.input_size == o.config.input_size);
    }

    // The ICM only removes predictions: per volume, TP and FP with the ICM never exceed those without.
    const nlohmann::json fold = io::read_json_file(o.out + "/results/physionet/mixed/fold0.json");
    const auto plain = eval::volumes_from_json(fold.at("plain"), "plain");
    const auto icm = eval::volumes_from_json(fold.at("icm"), "icm");
    REQUIRE(plain.size() == icm.size());
    for (size_t i = 0; i < plain.size(); ++i) {
        CHECK(icm[i].counts.tp <= plain[i].counts.tp);
        CHECK(icm[i].counts.fp <= plain[i].counts.fp);
        CHECK(icm[i].counts.tp + icm[i].counts.fn == plain[i].counts.tp + plain[i].counts.fn);
    }
    CHECK(temporaries(dir).empty());
    CHECK(!fs::exists(o.out + "/work/icm_tissue.ckpt"));  // checkpoints are removed once the model is saved

    // Rerun: every unit is found done; the table is rebuilt from the same per-fold files.
    const study::StudyResult again = study::run_study(o);
    CHECK(again.units_run == 0);
    CHECK(again.units_skipped == r.units_run);
    CHECK(again.table3 == r.table3);

    // Another config into the same output folder is refused before any work.
    study::StudyOptions other = o;
    other.config.lr = 0.01;
    test::require_error([&] { study::run_study(other); }, {o.out + "/config.json", "another config"});
}

/// Run ichseg_reproduce with `args`, stdout+stderr to `log`; returns the pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        FILE* f = std::freopen(log.c_str(), "w", stdout);
        if (!f || ::dup2(::fileno(stdout), 2) < 0) ::_exit(126);
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

TEST_CASE("kill -9 during training, then the same command resumes from the checkpoint and finishes", "[study][reproduce]") {
    const std::string dir = fresh_dir("kill");
    // The tiny profile with a longer first training stage and a checkpoint after every batch, so that the kill
    // lands inside the ICM tissue training.
    const std::string cfg = dir + "/config.json";
    std::ofstream(cfg) << R"({"profile": "tiny", "checkpoint_every": 1, "stages": {"icm_tissue": {"epochs": 40, "batch_size": 4}}})";
    const std::vector<std::string> args{ICHSEG_REPRODUCE_EXE, "--config", cfg, "--data", dir + "/data", "--out",
                                        dir + "/out", "--generate-phantoms", "--threads", "2"};
    const std::string log1 = dir + "/run1.log", log2 = dir + "/run2.log";
    const pid_t pid = spawn(args, log1);
    // Wait until the first epoch of the ICM tissue U-Net has ended (its checkpoint exists), then SIGKILL.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    bool seen = false;
    while (std::chrono::steady_clock::now() < deadline) {
        const std::string text = read_file(log1);
        if (text.find("[icm_tissue] epoch 2/40") != std::string::npos) {
            seen = true;
            break;
        }
        int st = 0;
        if (::waitpid(pid, &st, WNOHANG) == pid) FAIL("ichseg_reproduce exited before the kill:\n" << text);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(pid, SIGKILL);
    const int killed = wait_exit(pid);
    INFO("first run log:\n" << read_file(log1));
    REQUIRE(seen);
    CHECK(killed == -SIGKILL);
    REQUIRE(fs::exists(dir + "/out/work/icm_tissue.ckpt"));
    CHECK(!fs::exists(dir + "/out/models/icm_tissue.safetensors"));

    const int rc = wait_exit(spawn(args, log2));
    const std::string text = read_file(log2);
    INFO("second run log:\n" << text);
    REQUIRE(rc == 0);
    CHECK(text.find("[skip] phantoms") != std::string::npos);
    CHECK(text.find("[icm_tissue] resuming from") != std::string::npos);
    CHECK(text.find("[icm_tissue] epoch 1/40") == std::string::npos);  // the first epoch is not run again
    CHECK(is_png(dir + "/out/figures/figure3_physionet.png"));
    const std::string table = read_file(dir + "/out/tables/table3.md");
    for (const auto& row : study::table3_rows()) CHECK(table.find("| " + row.title + " |") != std::string::npos);
    CHECK(text.find(table.substr(0, table.find('\n'))) != std::string::npos);  // the table is printed
    CHECK(temporaries(dir).empty());
    CHECK(!fs::exists(dir + "/out/work/icm_tissue.ckpt"));
    // The resumed model is a valid model file.
    REQUIRE_NOTHROW(nn::load_model<float>(dir + "/out/models/icm_tissue.safetensors"));
}

}  // namespace test_study_reproduce
