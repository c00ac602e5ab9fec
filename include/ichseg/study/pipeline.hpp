/// @file pipeline.hpp (study)
/// @brief The whole study in dependency order (the `reproduce` command): phantoms (optional) -> ICM U-Nets ->
/// pretext tasks -> t-SNE -> per dataset and fold: ICH-only, Mixed and the six transferred models (train,
/// save, evaluate) -> pooled results: per-volume CSVs, summary.json, Table 3, p-value CSVs, Figures 3-5.
///
/// Resumability: every unit of work ends by writing one file atomically (a model file, a fold's result JSON, a
/// figure), and a unit whose file exists is skipped. A unit interrupted during training resumes from its
/// training-state checkpoint under <out>/work/ (one fixed path per unit), written atomically by train::fit.
/// <out>/config.json records the resolved config; a rerun with a different config into the same folder is
/// refused, so results of two configs never mix. Stale temporary files of killed runs are removed at start.
///
/// Device (StudyOptions::device, core/device_choice.hpp): resolved before anything is written ("cuda" without a
/// usable GPU is an error that names why), logged as "training on cuda:0 (...)" / "training on the CPU
/// (reason)" and recorded in every fold result ("device"). It is not part of the config identity: a run
/// started on the CPU may be resumed on a GPU (all files are device-independent safetensors / JSON).
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ichseg/core/device_choice.hpp"
#include "ichseg/core/parallel.hpp"
#include "ichseg/core/precision.hpp"
#include "ichseg/cpu/bf16.hpp"
#include "ichseg/eval/figures.hpp"
#include "ichseg/eval/kfold.hpp"
#include "ichseg/eval/report.hpp"
#include "ichseg/eval/tsne.hpp"
#include "ichseg/nn/model_file.hpp"
#include "ichseg/study/data.hpp"
#include "ichseg/study/evaluate.hpp"
#include "ichseg/study/training.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/runtime.hpp"
#endif

namespace ichseg::study {

namespace fs = std::filesystem;

struct StudyOptions {
    StudyConfig config;
    std::string data_root;
    std::string out;
    bool generate_phantoms = false;
    bool progress = true;  ///< training progress lines on stderr
    /// Where the networks train and run: "auto" (the GPU when this program links the CUDA backend and a GPU is
    /// usable, else the CPU), "cpu" or "cuda" (an error, before any work, when no GPU can be used).
    std::string device = "auto";
    /// Where the stage messages go (default: stdout).
    std::function<void(const std::string&)> log;
};

struct StudyResult {
    std::string table3;              ///< Markdown (compact SPEC layout)
    std::vector<std::string> files;  ///< main outputs
    int units_run = 0, units_skipped = 0;
    double seconds = 0;
    std::string device;              ///< "cpu" or "cuda:0": where this run trained
};

/// The segmentation methods trained per fold (pretext keys are the transferred models).
inline std::vector<std::string> fold_methods() {
    std::vector<std::string> m{"ich_only", "mixed"};
    for (Pretext p : all_pretexts()) m.push_back(pretext_key(p));
    return m;
}

namespace detail {

inline void mkdirs(const std::string& d) {
    std::error_code ec;
    fs::create_directories(d, ec);
    ICHSEG_CHECK(!ec, d, ": cannot create folder: ", ec.message());
}

/// Remove "<name>.tmp-<pid>" files of processes that no longer run (left by a kill during an atomic write).
inline int remove_stale_temporaries(const std::string& root) {
    int n = 0;
    std::error_code ec;
    if (!fs::exists(root, ec)) return 0;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const std::string name = it->path().filename().string();
        const auto pos = name.rfind(".tmp-");
        if (pos == std::string::npos) continue;
        const std::string pid_text = name.substr(pos + 5);
        if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
        const long pid = std::stol(pid_text);
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0 && pid != ::getpid()) continue;  // still alive
        std::error_code rm;
        if (fs::remove(it->path(), rm)) ++n;
    }
    return n;
}

inline uint64_t unit_seed(uint64_t seed, const std::string& key) {
    uint64_t h = 1469598103934665603ull;
    for (char ch : key) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    return data::mix64(seed ^ h);
}

inline std::string slug(const std::string& s) {
    std::string o;
    for (char ch : s) {
        if (std::isalnum(static_cast<unsigned char>(ch))) o += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        else if (!o.empty() && o.back() != '_') o += '_';
    }
    while (!o.empty() && o.back() == '_') o.pop_back();
    return o;
}

}  // namespace detail

/// One Table 3 row: which fold method it reads, and whether the ICM is applied.
struct RowSpec {
    std::string title, method;
    bool icm;
};

/// The 10 rows in the order of SPEC §9 (best first as in the paper). The transferred models follow the Mixed
/// recipe and are reported with the ICM post-processing, as the best baseline (see docs/deviations.md).
inline std::vector<RowSpec> table3_rows() {
    return {{"Multi-label (DL)", "multilabel_dl", true},
            {"Multi-label (CE)", "multilabel_ce", true},
            {"Binary classification", "binary", true},
            {"Local contrastive", "local_contrastive", true},
            {"Global contrastive", "global_contrastive", true},
            {"Context restoration", "context_restoration", true},
            {"U-Net mixed + ICM", "mixed", true},
            {"U-Net mixed", "mixed", false},
            {"U-Net ICH-only + ICM", "ich_only", true},
            {"U-Net ICH-only", "ich_only", false}};
}

class Study {
public:
    explicit Study(StudyOptions o) : o_(std::move(o)), c_(o_.config) {
        if (!o_.log) o_.log = [](const std::string& s) { std::printf("%s\n", s.c_str()); std::fflush(stdout); };
    }

    StudyResult run() {
        const auto t0 = std::chrono::steady_clock::now();
        c_.validate("config");
        dev_ = resolve_device(o_.device);  // before anything is written: "cuda" without a GPU stops here
        result_.device = dev_.device.str();
        if (c_.threads > 0) set_num_threads(c_.threads);
        detail::mkdirs(o_.out);
        const int stale = detail::remove_stale_temporaries(o_.out);
        if (stale) log("removed ", stale, " temporary file(s) left by an interrupted run");
        check_config_record();
        log(dev_.describe("training"));
        // Training and evaluation in the configured precision (CPU ops; on a GPU the CUDA backend's BF16 policy).
        const PrecisionGuard precision_guard(c_.precision);
#if ICHSEG_WITH_CUDA
        std::optional<cuda::PrecisionGuard> cuda_precision;
        if (dev_.is_cuda() && c_.precision == Precision::BF16) cuda_precision.emplace(cuda::Precision::BF16);
        if (dev_.is_cuda()) log("precision ", precision_name(c_.precision), " (CUDA backend)");
        else
#endif
        log(cpu::describe_precision(c_.precision));
        const DataPaths paths = DataPaths::under(o_.data_root);
        if (o_.generate_phantoms) phantoms_stage();

        log("loading datasets from ", o_.data_root);
        io::PhysioNetDataset physio_ds(paths.physionet);
        io::SegCq500Dataset cq_ds(DataPaths::segcq500_root(paths.segcq500));
        io::SegCq500Dataset icm_ds(DataPaths::segcq500_root(paths.icm));
        volumes_["physionet"] = load_volumes(physio_ds, c_.input_size, false);
        volumes_["segcq500"] = load_volumes(cq_ds, c_.input_size, false);
        icm_data_ = load_volumes(icm_ds, c_.input_size, true, false);
        for (auto* lv : {&volumes_["physionet"], &volumes_["segcq500"], &icm_data_})
            log("  ", lv->name, ": ", lv->num_cases(), " volumes, ", lv->tissue->size(), " slices",
                lv->skipped.empty() ? "" : (", " + std::to_string(lv->skipped.size()) + " item(s) skipped"));

        icm_stage();
        pretext_stage(paths.rsna);
        for (const std::string ds : {"physionet", "segcq500"}) folds_stage(ds);
        report_stage();
        result_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return result_;
    }

private:
    template <class... A>
    void log(const A&... a) {
        std::ostringstream os;
        (os << ... << a);
        o_.log(os.str());
    }
    std::string out(const std::string& rel) const { return o_.out + "/" + rel; }
    bool done(const std::string& file, const std::string& what) {
        if (train::file_exists(file)) {
            ++result_.units_skipped;
            log("[skip] ", what, " (", file, " exists)");
            return true;
        }
        ++result_.units_run;
        return false;
    }

    void check_config_record() {
        const std::string path = out("config.json");
        nlohmann::json now = to_json(c_);
        now.erase("threads");  // may differ between machines without changing results
        now.erase("loader_threads");
        if (train::file_exists(path)) {
            nlohmann::json before = read_json_file(path);
            before.erase("threads");
            before.erase("loader_threads");
            ICHSEG_CHECK(before == now, path, ": this output folder holds a run made with another config; "
                         "use a new --out folder (or delete this one)");
        }
        io::write_file_atomic(path, to_json(c_).dump(2) + "\n");
    }

    void phantoms_stage() {
        const std::string marker = o_.data_root + "/ichseg-phantoms.json";
        nlohmann::json spec = to_json(c_).at("phantoms");
        spec["seed"] = c_.seed;
        if (train::file_exists(marker)) {
            ICHSEG_CHECK(read_json_file(marker) == spec, marker, ": the phantoms under ", o_.data_root,
                         " were generated with other settings; use another --data folder");
            log("[skip] phantoms (", marker, " exists)");
            return;
        }
        log("generating phantoms under ", o_.data_root);
        const auto t0 = std::chrono::steady_clock::now();
        detail::mkdirs(o_.data_root);
        for (const auto& l : generate_phantoms(o_.data_root, c_)) log("  ", l);
        io::write_file_atomic(marker, spec.dump(2) + "\n");
        log("  phantoms written in ", eval::format("%.1f", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()), " s");
    }

    RunSpec run_spec(const std::string& key, const StageSpec& s) const {
        RunSpec r;
        r.name = key;
        r.checkpoint = out("work/" + key + ".ckpt");
        r.stage = s;
        r.seed = detail::unit_seed(c_.seed, key);
        r.progress = o_.progress;
        r.device = dev_.device;
        return r;
    }
    void finish_unit(const RunSpec& r) {
        std::error_code ec;
        fs::remove(r.checkpoint, ec);  // the model file now holds the result
    }

    // ---- ICM ----
    void icm_stage() {
        detail::mkdirs(out("models"));
        detail::mkdirs(out("work"));
        const std::pair<const char*, data::Window> nets[] = {{"icm_tissue", data::Window::tissue()},
                                                             {"icm_bone", data::Window::bone()}};
        for (const auto& [key, window] : nets) {
            const std::string model = out(std::string("models/") + key + ".safetensors");
            if (!done(model, key)) {
                const bool tissue = std::string(key) == "icm_tissue";
                RunSpec r = run_spec(key, tissue ? c_.icm_tissue : c_.icm_bone);
                Generator gen(r.seed);
                nn::UNet<float> net(c_.unet_config(), gen);
                const auto& src = tissue ? icm_data_.tissue : icm_data_.bone;
                std::vector<int64_t> all(static_cast<size_t>(src->size()));
                for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
                log("[", key, "] training on ", all.size(), " slices with cavity masks");
                train_segmentation(net, c_, r, src, all, 1.0);
                nn::ModelInfo info;  // an ICM model file as ichseg_predict --icm-tissue / --icm-bone expects it
                info.window_lo = window.lo;
                info.window_hi = window.hi;
                info.input_size = c_.input_size;
                info.target = "cavity";
                info.description = std::string("study ") + c_.profile + ": " + key + " (intracranial cavity)";
                nn::save_model(net, info, model);
                finish_unit(r);
            }
            auto& icm_net = std::string(key) == "icm_tissue" ? icm_tissue_ : icm_bone_;
            icm_net = nn::load_model<float>(model);  // on the CPU; evaluation runs it on the study's device
            icm_net->to(dev_.device);
        }
    }

    // ---- pretext tasks + t-SNE ----
    void pretext_stage(const std::string& rsna_root) {
        detail::mkdirs(out("models/pretext"));
        detail::mkdirs(out("figures"));
        bool need = false;
        for (Pretext p : all_pretexts())
            need = need || !train::file_exists(pretext_weights(p)) || !train::file_exists(tsne_png(p));
        if (!need) {
            for (Pretext p : all_pretexts()) {
                done(pretext_weights(p), std::string("pretext ") + pretext_key(p));
                done(tsne_png(p), std::string("t-SNE ") + pretext_key(p));
            }
            return;
        }
        auto ds = std::make_shared<io::RsnaDataset>(rsna_root);
        auto src = std::make_shared<io::RsnaSliceSource>(ds);
        const PretextSplit split = pretext_split(*ds, c_.pretext_validation, c_.seed);
        log("pretext set (RSNA layout, ", rsna_root, "): ", split.train.size(), " training and ",
            split.validation.size(), " validation images (balanced ICH / non-ICH)");
        for (Pretext p : all_pretexts()) {
            const std::string w = pretext_weights(p);
            if (done(w, std::string("pretext ") + pretext_key(p))) continue;
            const StageSpec& s = p == Pretext::context_restoration ? c_.context_restoration
                                 : p == Pretext::global_contrastive ? c_.global_contrastive
                                 : p == Pretext::local_contrastive  ? c_.local_contrastive
                                                                    : c_.classification;
            RunSpec r = run_spec(std::string("pretext_") + pretext_key(p), s);
            log("[", r.name, "] training (", s.epochs, " epochs, batch ", s.batch_size, ")");
            train_pretext(p, c_, r, src, split.train, w, pretext_weights(Pretext::global_contrastive));
            finish_unit(r);
        }
        for (Pretext p : all_pretexts()) {
            if (done(tsne_png(p), std::string("t-SNE ") + pretext_key(p))) continue;
            tsne_figure(p, src, split.validation);
        }
    }
    std::string pretext_weights(Pretext p) const {
        return out(std::string("models/pretext/") + pretext_key(p) + ".safetensors");
    }
    std::string tsne_png(Pretext p) const { return out(std::string("figures/figure5_") + pretext_key(p) + ".png"); }

    /// Figure 5: t-SNE of the pooled bottleneck of the pretext model's encoder on the validation images.
    void tsne_figure(Pretext p, const std::shared_ptr<io::RsnaSliceSource>& src, const std::vector<int64_t>& val) {
        nn::UNet<float> enc_host(c_.unet_config());
        nn::load_matching(enc_host, pretext_weights(p));  // copies encoder.* (and more where it exists)
        enc_host.eval();
        enc_host.to(dev_.device);
        data::PipelineOptions pipe = pipeline(c_, data::Task::classification, false);
        data::LoaderOptions lo;
        lo.batch_size = 32;
        lo.threads = c_.loader_threads;
        lo.shuffle = false;
        data::BatchLoader loader(src, val, pipe, lo);
        loader.start_epoch(0);
        std::vector<float> feats;
        std::vector<bool> has_ich;
        std::vector<uint32_t> subs;
        int64_t d = 0;
        NoGradGuard ng;
        while (auto b = loader.next()) {
            const Tensor<float> f =
                global_avg_pool(enc_host.encoder->forward(Var<float>(b->images.to(dev_.device)))).value().to(Device::cpu())
                    .contiguous();
            d = f.shape()[1];
            feats.insert(feats.end(), f.data(), f.data() + f.numel());
            for (int64_t i = 0; i < b->size(); ++i) {
                const io::IchLabels l = src->labels(b->indices[static_cast<size_t>(i)]);
                has_ich.push_back(l.any == 1);
                subs.push_back(subtype_bits(l));
            }
        }
        const int64_t n = static_cast<int64_t>(has_ich.size());
        eval::TsneOptions to;
        to.perplexity = std::min(c_.tsne_perplexity, std::max(1.0, (static_cast<double>(n) - 1) / 3.0));
        to.iterations = c_.tsne_iterations;
        to.seed = c_.seed;
        if (n < 100) to.learning_rate = 10;  // the automatic floor of 50 oscillates on very small sets
        const eval::TsneResult t = eval::tsne(feats, n, d, to);
        eval::TsneFigureSpec spec;
        spec.title = std::string("t-SNE of the pooled bottleneck: ") + pretext_title(p) + " (" + std::to_string(n) +
                     " validation images)";
        spec.xy = t.embedding;
        spec.has_ich = has_ich;
        spec.subtypes = subs;
        eval::write_figure5(tsne_png(p), spec);
        log("[t-SNE ", pretext_key(p), "] ", n, " points, KL ", eval::format("%.3f", t.kl_divergence), " -> ", tsne_png(p));
    }

    // ---- folds ----
    std::string fold_result(const std::string& ds, const std::string& m, int k) const {
        return out("results/" + ds + "/" + m + "/fold" + std::to_string(k) + ".json");
    }

    void folds_stage(const std::string& ds) {
        const LoadedVolumes& lv = volumes_.at(ds);
        const int k = ds == "physionet" ? c_.physionet_folds : c_.segcq500_folds;
        const StageSpec& spec = ds == "physionet" ? c_.physionet_supervised : c_.segcq500_supervised;
        const std::vector<eval::Fold> folds = eval::stratified_kfold(lv.has_ich, k, c_.seed);
        std::map<int64_t, std::vector<uint8_t>> icm;
        bool icm_ready = false;
        for (int f = 0; f < k; ++f) {
            const auto& fold = folds[static_cast<size_t>(f)];
            const std::vector<int64_t> train_slices = data::slices_of_cases(*lv.seg, fold.train);
            for (const std::string& m : fold_methods()) {
                const std::string res = fold_result(ds, m, f);
                const std::string what = ds + " fold " + std::to_string(f + 1) + "/" + std::to_string(k) + " " + m;
                if (done(res, what)) continue;
                detail::mkdirs(out("results/" + ds + "/" + m));
                detail::mkdirs(out("models/" + ds + "/" + m));
                detail::mkdirs(out("work/" + ds + "/" + m));
                std::vector<int64_t> slices;
                double alpha = c_.alpha;
                if (m == "ich_only") {
                    slices = data::ich_slices(*lv.seg, &train_slices);
                    alpha = 1.0;
                } else {
                    // drawn once per fold with a fixed seed: the same subset for every Mixed-recipe method
                    slices = data::select_mixed(*lv.seg, train_slices, c_.mixed_ratio,
                                                detail::unit_seed(c_.seed, ds + "/mixed/" + std::to_string(f)));
                }
                RunSpec r = run_spec(ds + "/" + m + "/fold" + std::to_string(f), spec);
                Generator gen(r.seed);
                nn::UNet<float> net(c_.unet_config(), gen);
                nlohmann::json transfer;
                if (m != "ich_only" && m != "mixed") {
                    const std::string w = out("models/pretext/" + m + ".safetensors");
                    const nn::TransferReport tr = nn::load_matching(net, w);
                    transfer = {{"from", w}, {"copied", tr.copied}, {"missing", tr.missing},
                                {"shape_mismatch", tr.shape_mismatch}, {"unused", tr.unused}};
                    io::write_file_atomic(out("results/" + ds + "/" + m + "/fold" + std::to_string(f) + ".transfer.json"),
                                          transfer.dump(2) + "\n");
                    log("[", r.name, "] transfer from ", w, ": ", tr.copied.size(), " tensors copied, ",
                        tr.missing.size(), " kept at initialisation, ", tr.unused.size(), " unused");
                }
                log("[", r.name, "] training on ", slices.size(), " slices of ", fold.train.size(), " volumes");
                const train::FitResult fr = train_segmentation(net, c_, r, lv.seg, slices, alpha);
                const std::string model = out("models/" + ds + "/" + m + "/fold" + std::to_string(f) + ".safetensors");
                nn::ModelInfo info;  // an ICH model file for ichseg_predict -m
                const data::Window sw = data::Window::segmentation();
                info.window_lo = sw.lo;
                info.window_hi = sw.hi;
                info.input_size = c_.input_size;
                info.target = "ich";
                info.description = std::string("study ") + c_.profile + ": " + ds + " " + m + " fold " + std::to_string(f);
                nn::save_model(net, info, model);
                if (!icm_ready) {
                    std::vector<int64_t> all(static_cast<size_t>(lv.num_cases()));
                    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
                    icm = icm_masks(*icm_tissue_, *icm_bone_, lv, all, c_.threshold);
                    icm_ready = true;
                }
                const FoldEvaluation ev = evaluate_fold(net, lv, fold.test, f, c_.threshold, &icm);
                nlohmann::json j = {{"dataset", ds},
                                    {"method", m},
                                    {"fold", f},
                                    {"train_volumes", fold.train.size()},
                                    {"train_slices", slices.size()},
                                    {"epoch_loss", fr.epoch_loss},
                                    {"resumed", fr.resumed},
                                    {"device", dev_.device.str()},
                                    {"model", model},
                                    {"plain", volumes_json(ev.plain)},
                                    {"icm", volumes_json(ev.with_icm)}};
                if (!transfer.is_null()) j["transfer"] = transfer.at("from");
                io::write_file_atomic(res, j.dump(1) + "\n");
                finish_unit(r);
                const auto all = eval::summarize_volumes(ev.plain, eval::all_volumes());
                const auto ich = eval::summarize_volumes(ev.with_icm, eval::ich_volumes());
                log("[", r.name, "] ", ev.plain.size(), " test volumes: mean Dice ", eval::format("%.3f", all.dice.mean),
                    "; ICH volumes with ICM: Dice ", eval::format("%.3f", ich.dice.mean), ", precision ",
                    eval::format("%.3f", ich.precision.mean), ", recall ", eval::format("%.3f", ich.recall.mean));
            }
        }
    }

    // ---- pooled results ----
    std::vector<eval::MethodResults> pooled(const std::string& ds) const {
        const int k = ds == "physionet" ? c_.physionet_folds : c_.segcq500_folds;
        std::vector<eval::MethodResults> rows;
        for (const RowSpec& row : table3_rows()) {
            eval::MethodResults mr;
            mr.method = row.title;
            for (int f = 0; f < k; ++f) {
                const std::string path = fold_result(ds, row.method, f);
                const nlohmann::json j = read_json_file(path);
                ICHSEG_CHECK(j.contains("plain") && j.contains("icm"), path, ": missing 'plain' / 'icm' records");
                auto v = volumes_from_json(j.at(row.icm ? "icm" : "plain"), path);
                mr.volumes.insert(mr.volumes.end(), v.begin(), v.end());
            }
            rows.push_back(std::move(mr));
        }
        return rows;
    }

    void report_stage() {
        detail::mkdirs(out("tables"));
        std::map<std::string, std::vector<eval::MethodResults>> res;
        for (const std::string ds : {"physionet", "segcq500"}) {
            res[ds] = pooled(ds);
            const auto& rows = res[ds];
            eval::write_volume_csv(out("tables/" + ds + "_volumes.csv"), rows);
            for (const auto& r : rows) {
                const std::string dir = out("results/" + ds + "/rows/" + detail::slug(r.method));
                detail::mkdirs(dir);
                eval::write_volume_csv(dir + "/volumes.csv", r);
                eval::SummaryOptions so;
                so.dataset = ds == "physionet" ? "PhysioNet CT-ICH (Hssayeni) layout" : "Seg-CQ500 layout";
                so.threshold = c_.threshold;
                eval::write_summary_json(dir + "/summary.json", r, so);
            }
            for (eval::Metric m : eval::all_metrics()) {
                eval::write_pvalue_csv(out("tables/pvalues_" + ds + "_" + detail::slug(eval::metric_name(m)) + ".csv"),
                                       eval::pairwise_welch(rows, m));
                if (ds == "physionet")
                    eval::write_pvalue_csv(out("tables/pvalues_physionet_ich_" + detail::slug(eval::metric_name(m)) + ".csv"),
                                           eval::pairwise_welch(rows, m, eval::ich_volumes()));
            }
            const std::string title = ds == "physionet" ? "PhysioNet CT-ICH layout" : "Seg-CQ500 layout";
            eval::write_figure3(out("figures/figure3_" + ds + ".png"), "Volume Dice per subtype, " + title, rows,
                                ds == "physionet");
            eval::write_figure4(out("figures/figure4_" + ds + ".png"), "Welch t-test p-values, " + title + ", all volumes",
                                rows);
            if (ds == "physionet")
                eval::write_figure4(out("figures/figure4_physionet_ich.png"),
                                    "Welch t-test p-values, " + title + ", ICH volumes", rows, eval::ich_volumes());
        }
        std::vector<eval::Table3Row> t3;
        const auto& ph = res.at("physionet");
        const auto& cq = res.at("segcq500");
        for (size_t i = 0; i < ph.size(); ++i)
            t3.push_back(eval::make_table3_row(ph[i].method, &ph[i].volumes, &cq[i].volumes));
        eval::write_table3_markdown(out("tables/table3.md"), t3);
        eval::write_table3_markdown(out("tables/table3_full.md"), t3, eval::Table3Layout::full);
        result_.table3 = eval::table3_markdown(t3);
        result_.files = {out("tables/table3.md"), out("tables/table3_full.md"), out("tables/physionet_volumes.csv"),
                         out("tables/segcq500_volumes.csv"), out("results/<dataset>/rows/<row>/summary.json"),
                         out("tables/pvalues_*.csv"), out("figures/")};
    }

    StudyOptions o_;
    StudyConfig c_;
    DeviceChoice dev_;
    StudyResult result_;
    std::map<std::string, LoadedVolumes> volumes_;
    LoadedVolumes icm_data_;
    std::shared_ptr<nn::UNet<float>> icm_tissue_, icm_bone_;
};

inline StudyResult run_study(const StudyOptions& o) { return Study(o).run(); }

}  // namespace ichseg::study
