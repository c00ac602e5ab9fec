/// @file pipeline.hpp (study)
/// @brief The whole study as units of work (study/plan.hpp): phantoms (optional) -> ICM U-Nets -> pretext tasks ->
/// t-SNE -> per dataset and fold: ICH-only, Mixed and the six transferred models (train, save, evaluate) -> the
/// report (per-volume CSVs, summary.json, Table 3, p-value CSVs, Figures 3-5); optionally the label-budget
/// experiment (study/budget.hpp) and its report.
///
/// Every process that runs the study is a worker of the shared output folder (study/work_queue.hpp): it builds
/// the same plan, takes the first unit whose dependencies are done and that nobody holds (an exclusive claim file
/// under <out>/queue/, renewed by a heartbeat), runs it, and repeats until every unit is done; it waits while the
/// units left are held by others, and takes over a unit whose owner died (kill -9, node lost) once its lease
/// expired (at once when the owner was a process of this machine). One process alone runs the units in plan
/// order, as the study always did; several processes (one per GPU, one per node) share the work and the report
/// is written once, by whoever takes its unit when the last fold has finished.
///
/// Resumability: every unit ends by writing its output files atomically (a model file, a fold's result JSON, a
/// figure, the tables), and a unit whose files exist is done. A unit interrupted during training resumes from its
/// training-state checkpoint under <out>/work/ (one fixed path per unit), whoever takes it over.
/// <out>/config.json records the resolved config (created exclusively, so concurrent first workers agree); a
/// worker with a different config is refused, so results of two configs never mix. Stale temporary files of
/// killed processes of this machine are removed at start.
///
/// Device (StudyOptions::device, core/device_choice.hpp): resolved before anything is written ("cuda" / "cuda:N"
/// without a usable GPU is an error that names why), logged as "training on cuda:0 (...)" / "training on the CPU
/// (reason)" and recorded in every fold result ("device"). It is not part of the config identity: a run started on
/// the CPU may be resumed on a GPU, and workers on different devices may share a folder.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ichseg/core/device_choice.hpp"
#include "ichseg/core/parallel.hpp"
#include "ichseg/eval/budget_figure.hpp"
#include "ichseg/core/precision.hpp"
#include "ichseg/cpu/bf16.hpp"
#include "ichseg/eval/figures.hpp"
#include "ichseg/eval/kfold.hpp"
#include "ichseg/eval/report.hpp"
#include "ichseg/eval/tsne.hpp"
#include "ichseg/io/files.hpp"
#include "ichseg/io/text.hpp"
#include "ichseg/nn/model_file.hpp"
#include "ichseg/study/budget.hpp"
#include "ichseg/study/data.hpp"
#include "ichseg/study/evaluate.hpp"
#include "ichseg/study/plan.hpp"
#include "ichseg/study/plan_status.hpp"
#include "ichseg/study/training.hpp"
#include "ichseg/study/work_queue.hpp"
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
    /// usable, else the CPU), "cpu", "cuda" or "cuda:N" (an error, before any work, when no GPU can be used).
    std::string device = "auto";
    /// Where the stage messages go (default: stdout).
    std::function<void(const std::string&)> log;
    /// Worker mode: a unit that fails is recorded (<out>/queue/<unit>.failed.<n>) and the worker goes on with
    /// the other units; a unit fails for good after `max_attempts` failed attempts. Without it, the first failure
    /// stops the process with its error (and a failure recorded earlier never stops a new attempt).
    bool worker = false;
    bool label_budget = false;  ///< also run the label-budget experiment (config label_budget.*)
    double lease_s = 300;       ///< a claim not renewed for this long may be taken over (study/work_queue.hpp)
    double heartbeat_s = 30;    ///< claim renewal interval
    double poll_s = 5;          ///< wait between looks at the queue while the units left are held by others
    int max_attempts = 2;       ///< worker mode: failed attempts before a unit counts as failed
    std::string node;           ///< node name in claims (default: the host name)
};

struct StudyResult {
    std::string table3;              ///< Markdown (compact SPEC layout); empty while the report is not written
    std::vector<std::string> files;  ///< main outputs
    int units_run = 0, units_skipped = 0, units_failed = 0;
    bool complete = false;           ///< every unit of the plan is done
    double seconds = 0;
    std::string device;              ///< "cpu" or "cuda:0": where this process trained
};

namespace detail {

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

/// Thrown when the worker's claim on the unit it runs was taken over (before any output is written).
class LeaseLost : public Error {
public:
    explicit LeaseLost(const std::string& what) : Error(what) {}
};

}  // namespace detail

/// One Table 3 row: which fold method it reads, and whether the ICM is applied.
struct RowSpec {
    std::string title, method;
    bool icm;
};

/// The 10 rows of the paper's Table 3 in the order of SPEC §9 (best first as in the paper). The paper writes
/// "+ ICM" only on baseline rows: the six transferred models are reported WITHOUT the ICM (SPEC §7), so each of
/// them compares like with like against "U-Net mixed" (the recipe they were fine-tuned with).
inline std::vector<RowSpec> table3_rows() {
    return {{"Multi-label (DL)", "multilabel_dl", false},
            {"Multi-label (CE)", "multilabel_ce", false},
            {"Binary classification", "binary", false},
            {"Local contrastive", "local_contrastive", false},
            {"Global contrastive", "global_contrastive", false},
            {"Context restoration", "context_restoration", false},
            {"U-Net mixed + ICM", "mixed", true},
            {"U-Net mixed", "mixed", false},
            {"U-Net ICH-only + ICM", "ich_only", true},
            {"U-Net ICH-only", "ich_only", false}};
}

/// Every row the study reports: Table 3's ten, and beside each transferred model its "+ ICM" variant (in
/// table3_full.md, the per-row files and the per-volume CSVs; never in Table 3's place).
inline std::vector<RowSpec> all_rows() {
    std::vector<RowSpec> out;
    for (const RowSpec& r : table3_rows()) {
        out.push_back(r);
        if (!r.icm && is_transfer_method(r.method)) out.push_back({r.title + " + ICM", r.method, true});
    }
    return out;
}

/// The rule of SPEC §7: an ICM never post-processes a volume its training set contained. Refuses (an error
/// naming the ICM, both volumes and the way out) when a volume of `evaluated` is one of `trained_on`
/// (same_volume: identical voxels, or the same CQ500 patient).
inline void check_icm_disjoint(const std::string& icm, const std::vector<VolumeIdentity>& trained_on,
                               const std::vector<VolumeIdentity>& evaluated, const std::string& where) {
    for (const VolumeIdentity& e : evaluated)
        for (const VolumeIdentity& t : trained_on)
            if (same_volume(e, t))
                fail("ICM ", icm, " was trained on volume ", t.id, " and would post-process ", e.id, " (", where,
                     "): refused. An ICM must never post-process a volume its training set contained; list the "
                     "dataset in the config's icm_per_fold (its ICM is then trained per fold without the fold's test "
                     "volumes) or give <data>/icm volumes disjoint from it");
}

/// The training-set record of an ICM model (written by the study beside the model).
inline std::vector<VolumeIdentity> read_icm_training(const std::string& path) {
    ICHSEG_CHECK(train::file_exists(path), path, ": the ICM's training-set record is missing, so it cannot be "
                 "checked against the volumes it would post-process");
    const nlohmann::json j = io::read_json_file(path);
    std::vector<VolumeIdentity> v;
    try {
        for (const auto& e : j.at("volumes"))
            v.push_back({e.at("id").get<std::string>(), std::stoull(e.at("fingerprint").get<std::string>(), nullptr, 16)});
    } catch (const std::exception& e) {
        fail(path, ": not an ICM training-set record (", e.what(), ")");
    }
    return v;
}

/// "cpu (<host>, 2 threads)" / the GPU's name: the device whose speed a finished unit measured (the key of the
/// plan's time estimates).
inline std::string device_label(const DeviceChoice& d) {
    if (d.device.is_cpu()) return "cpu (" + io::node_name() + ", " + std::to_string(num_threads()) + " threads)";
    return d.detail.empty() ? d.device.str() : d.detail.substr(0, d.detail.find(" ("));
}

class Study {
public:
    explicit Study(StudyOptions o) : o_(std::move(o)), c_(o_.config) {
        if (!o_.log) o_.log = [](const std::string& s) { std::printf("%s\n", s.c_str()); std::fflush(stdout); };
    }

    /// The plan of this study (costs from `sizes`).
    static Plan make_plan(const StudyOptions& o, const DataSizes& sizes) {
        PlanInputs in;
        in.out = o.out;
        in.data_root = o.data_root;
        in.generate_phantoms = o.generate_phantoms;
        in.label_budget = o.label_budget;
        return build_plan(o.config, in, sizes);
    }

    /// Dataset sizes for the plan's cost estimates: read from the data when they are there, else the phantom
    /// settings (--generate-phantoms) or the published datasets.
    static DataSizes data_sizes(const StudyOptions& o, std::string* why_not = nullptr) {
        const StudyConfig& c = o.config;
        const DataPaths paths = DataPaths::under(o.data_root);
        std::error_code ec;
        if (fs::is_directory(paths.physionet, ec)) {
            try {
                DataSizes d;
                auto vols = [&](const LoadedVolumes& lv, bool seg) {
                    DataSizes::Volumes v;
                    v.volumes = lv.num_cases();
                    v.slices = lv.tissue->size();
                    if (seg) v.ich_slices = static_cast<int64_t>(data::ich_slices(*lv.seg).size());
                    return v;
                };
                d.physionet = vols(load_volumes(io::PhysioNetDataset(paths.physionet), c.input_size, false), true);
                d.segcq500 = vols(load_volumes(io::SegCq500Dataset(DataPaths::segcq500_root(paths.segcq500)),
                                               c.input_size, false), true);
                d.icm = vols(load_volumes(io::SegCq500Dataset(DataPaths::segcq500_root(paths.icm)), c.input_size,
                                          true, false), false);
                const io::RsnaDataset rsna(paths.rsna);
                const PretextSplit sp = pretext_split(rsna, c.pretext_validation, c.seed);
                d.pretext_train = static_cast<int64_t>(sp.train.size());
                d.pretext_validation = static_cast<int64_t>(sp.validation.size());
                d.source = "the data under " + o.data_root + " (read)";
                return d;
            } catch (const Error& e) {
                if (why_not) *why_not = e.what();
            }
        }
        return o.generate_phantoms ? DataSizes::phantoms(c) : DataSizes::published(c);
    }

    StudyResult run() {
        const auto t0 = std::chrono::steady_clock::now();
        c_.validate("config");
        dev_ = resolve_device(o_.device);  // before anything is written: "cuda" without a GPU stops here
        result_.device = dev_.device.str();
        if (c_.threads > 0) set_num_threads(c_.threads);
        io::make_dirs(o_.out);
        const int stale = io::remove_stale_temporaries(o_.out);
        if (stale) log("removed ", stale, " temporary file(s) left by an interrupted run");
        check_config_record();
        check_phantom_record();
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
        io::make_dirs(out("work"));
        plan_ = make_plan(o_, DataSizes{});
        QueueOptions qo;
        qo.dir = out("queue");
        qo.lease_s = o_.lease_s;
        qo.heartbeat_s = o_.heartbeat_s;
        qo.max_attempts = o_.max_attempts;
        qo.node = o_.node;
        queue_ = std::make_unique<WorkQueue>(qo);
        io::make_dirs(out("queue/log"));
        worker_log_ = out("queue/log/" + queue_->identity().token + ".log");
        note("start", "", queue_->identity().str() + " device " + dev_.device.str());
        work_loop();
        if (train::file_exists(out(outputs::table3()))) {
            std::ifstream f(out(outputs::table3()));
            result_.table3.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
        }
        result_.files = {out("tables/table3.md"), out("tables/table3_full.md"), out("tables/physionet_volumes.csv"),
                         out("tables/segcq500_volumes.csv"), out("results/<dataset>/rows/<row>/summary.json"),
                         out("tables/pvalues_*.csv"), out("figures/")};
        if (o_.label_budget) result_.files.push_back(out(outputs::budget_csv()));
        result_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        note("exit", "", result_.complete ? "plan complete" : "stopped");
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

    /// One line in this process's own log (<out>/queue/log/<token>.log; one writer per file, so appends never
    /// interleave on NFS): "<UTC time> <event> <unit> <detail>".
    void note(const std::string& event, const std::string& unit, const std::string& detail = "") {
        std::time_t t = std::time(nullptr);
        char ts[32];
        std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
        std::ofstream f(worker_log_, std::ios::app);
        f << ts << ' ' << event << ' ' << (unit.empty() ? "-" : unit) << (detail.empty() ? "" : " " + detail) << '\n';
    }

    /// config.json: created exclusively (link of a complete temporary: atomic on NFS), so that the first workers
    /// of a folder agree on one config; then every worker compares its own with it.
    void check_config_record() {
        const std::string path = out("config.json");
        auto identity = [](nlohmann::json j) {
            j.erase("threads");  // may differ between machines without changing results
            j.erase("loader_threads");
            j.erase("label_budget");  // says which extra units exist, changes none
            return j;
        };
        const std::string text = to_json(c_).dump(2) + "\n";
        if (!train::file_exists(path)) {
            const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + io::node_name();
            io::write_file_atomic(tmp, text);
            const int rc = ::link(tmp.c_str(), path.c_str());
            std::error_code ec;
            fs::remove(tmp, ec);
            if (rc == 0) return;
        }
        const nlohmann::json before = io::read_json_file(path);
        ICHSEG_CHECK(identity(before) == identity(to_json(c_)), path,
                     ": this output folder holds a run made with another config; use a new --out folder (or delete "
                     "this one)");
    }

    void check_phantom_record() {
        const std::string marker = o_.data_root + "/ichseg-phantoms.json";
        if (!o_.generate_phantoms || !train::file_exists(marker)) return;
        ICHSEG_CHECK(io::read_json_file(marker) == phantom_spec(), marker, ": the phantoms under ", o_.data_root,
                     " were generated with other settings; use another --data folder");
    }
    nlohmann::json phantom_spec() const {
        nlohmann::json spec = to_json(c_).at("phantoms");
        spec["seed"] = c_.seed;
        return spec;
    }

    // ---- the worker loop ----
    void work_loop() {
        bool first = true;
        while (true) {
            const std::vector<UnitStatus> st = plan_status(plan_, queue_.get(), !o_.worker);
            bool all_done = true, live = false;
            int failed = 0;
            size_t pick = plan_.units.size();
            for (size_t i = 0; i < st.size(); ++i) {
                const Unit& u = plan_.units[i];
                switch (st[i].state) {
                    case UnitState::done:
                        if (first) {
                            ++result_.units_skipped;
                            log("[skip] ", u.key, " (", u.outputs.front(), " exists)");
                        }
                        break;
                    case UnitState::ready:
                        all_done = false;
                        if (pick == plan_.units.size()) pick = i;
                        break;
                    case UnitState::running: all_done = false, live = true; break;
                    case UnitState::waiting: all_done = false; break;
                    case UnitState::failed:
                    case UnitState::blocked: all_done = false, ++failed; break;
                }
            }
            first = false;
            if (all_done) {
                result_.complete = true;
                return;
            }
            if (pick < plan_.units.size()) {
                run_claimed(plan_.units[pick], st[pick]);
                continue;
            }
            if (!live) {  // nothing ready, nothing running: what is left failed or waits on a failure
                result_.units_failed = failed;
                std::string list;
                for (size_t i = 0; i < st.size(); ++i)
                    if (st[i].state == UnitState::failed)
                        list += "\n  " + plan_.units[i].key + ": " + st[i].claim.last_error;
                fail("the study cannot finish: ", failed, " unit(s) failed or wait on a failed unit (",
                     queue_->options().dir, "/<unit>.failed.<n> hold the errors; run a worker without --worker, or "
                     "delete those files, to try them again):", list);
            }
            if (waiting_logged_ != true) {
                log("waiting for units held by other workers (", queue_->options().dir, ")");
                waiting_logged_ = true;
            }
            std::this_thread::sleep_for(std::chrono::duration<double>(o_.poll_s));
        }
    }

    void run_claimed(const Unit& u, const UnitStatus& s) {
        std::unique_ptr<Lease> lease = queue_->try_claim(u.key, s.next_attempt);
        if (!lease) return;  // another worker was faster
        waiting_logged_ = false;
        bool done = true;
        for (const std::string& o : u.outputs) done = done && file_exists_now(o);
        if (done) {  // finished by an owner that died before its record: nothing to run
            queue_->mark_done(*lease, {{"found_complete", true}});
            return;
        }
        const std::string ckpt = out("work/" + u.key + ".ckpt");
        std::string how = "attempt " + std::to_string(s.next_attempt);
        if (s.claim.attempts > 0 && !s.claim.last_failed)
            how += ", taking over from " + s.claim.owner.value("node", std::string("?")) + ":" +
                   std::to_string(s.claim.owner.value("pid", 0L)) +
                   (s.claim.owner_dead ? " (process gone)" : io::format(" (lease expired %.0f s ago)", s.claim.age_s - o_.lease_s));
        if (s.claim.attempts > 0 && !s.claim.last_failed) {  // the previous owner died: its temporaries too
            const int n = io::remove_stale_temporaries(o_.out);
            if (n) how += ", removed " + std::to_string(n) + " temporary file(s) of dead processes";
        }
        if (train::file_exists(ckpt)) how += ", checkpoint " + ckpt;
        if (s.next_attempt > 0 || train::file_exists(ckpt)) log("[", u.key, "] ", how);
        note("start", u.key, how);
        lease_ = lease.get();
        unit_flops_ = 0;
        const auto t0 = std::chrono::steady_clock::now();
        try {
            run_unit(u);
            const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            check_lease();
            queue_->mark_done(*lease, {{"seconds", sec},
                                       {"flops", unit_flops_},
                                       {"stage", u.stage},
                                       {"device", dev_.device.str()},
                                       {"device_name", device_name()},
                                       {"threads", num_threads()}});
            note("finish", u.key, io::format("%.2f s", sec));
            ++result_.units_run;
            std::error_code ec;
            fs::remove(ckpt, ec);  // the unit's outputs now hold the result
        } catch (const train::Stopped& e) {
            lease->stop();
            note("lost", u.key, e.what());
            log("[", u.key, "] ", e.what(), "; left to it");
        } catch (const detail::LeaseLost& e) {
            lease->stop();
            note("lost", u.key, e.what());
            log("[", u.key, "] ", e.what());
        } catch (const std::exception& e) {
            queue_->mark_failed(*lease, e.what());
            note("failed", u.key, e.what());
            lease_ = nullptr;
            if (!o_.worker) throw;
            log("[", u.key, "] failed (attempt ", s.next_attempt + 1, " of at most ", o_.max_attempts, "): ", e.what());
        }
        lease_ = nullptr;
    }

    /// Throws LeaseLost when this worker's claim on its unit was taken over: called before a unit writes its
    /// result files.
    void check_lease() {
        if (lease_ && !lease_->check())
            throw detail::LeaseLost("another worker took " + lease_->unit() + " over; its result is not written here");
    }

    std::string device_name() const { return device_label(dev_); }

    void run_unit(const Unit& u) {
        switch (u.kind) {
            case UnitKind::phantoms: return phantoms_unit();
            case UnitKind::icm: return icm_unit(u);
            case UnitKind::pretext: return pretext_unit(u);
            case UnitKind::tsne: return tsne_unit(u);
            case UnitKind::fold: return fold_unit(u);
            case UnitKind::report: return report_unit();
            case UnitKind::budget: return budget_unit(u);
            case UnitKind::budget_report: return budget_report_unit();
        }
    }

    RunSpec run_spec(const std::string& key, const StageSpec& s) {
        RunSpec r;
        r.name = key;
        r.checkpoint = out("work/" + key + ".ckpt");
        io::make_dirs(fs::path(r.checkpoint).parent_path().string());
        r.stage = s;
        r.seed = detail::unit_seed(c_.seed, key);
        r.progress = o_.progress;
        r.device = dev_.device;
        Lease* l = lease_;
        r.keep_going = [l] { return !l || !l->lost(); };
        return r;
    }

    // ---- data, loaded when a unit first needs it ----
    LoadedVolumes& volumes(const std::string& ds) {
        ensure_volumes();
        return volumes_.at(ds);
    }
    void ensure_volumes() {
        if (!volumes_.empty()) return;
        const DataPaths paths = DataPaths::under(o_.data_root);
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
    }
    const std::vector<eval::Fold>& folds(const std::string& ds) {
        auto it = folds_.find(ds);
        if (it != folds_.end()) return it->second;
        const int k = ds == "physionet" ? c_.physionet_folds : c_.segcq500_folds;
        return folds_[ds] = eval::stratified_kfold(volumes(ds).has_ich, k, c_.seed);
    }
    struct PretextSet {
        std::shared_ptr<io::RsnaDataset> ds;
        std::shared_ptr<data::RsnaSliceSource> src;
        PretextSplit split;
    };
    PretextSet& pretext_set() {
        if (pretext_) return *pretext_;
        const std::string root = DataPaths::under(o_.data_root).rsna;
        pretext_ = std::make_unique<PretextSet>();
        pretext_->ds = std::make_shared<io::RsnaDataset>(root);
        pretext_->src = std::make_shared<data::RsnaSliceSource>(pretext_->ds);
        pretext_->split = pretext_split(*pretext_->ds, c_.pretext_validation, c_.seed);
        log("pretext set (RSNA layout, ", root, "): ", pretext_->split.train.size(), " training and ",
            pretext_->split.validation.size(), " validation images (balanced ICH / non-ICH)");
        return *pretext_;
    }
    /// The ICM of the test volumes `cases` of fold `f` of `ds` (the union of the two ICM U-Nets' thresholded
    /// predictions), after the check that neither net was trained on one of them (SPEC §7).
    std::map<int64_t, std::vector<uint8_t>> icm_of(const std::string& ds, int f, const std::vector<int64_t>& cases) {
        const LoadedVolumes& lv = volumes(ds);
        std::vector<VolumeIdentity> evaluated;
        for (int64_t c : cases) evaluated.push_back(lv.identity[static_cast<size_t>(c)]);
        nn::UNet<float>* nets[2] = {nullptr, nullptr};
        int i = 0;
        for (const char* which : {"tissue", "bone"}) {
            const IcmUnit u = icm_unit_for(c_, ds, f, which);
            check_icm_disjoint(u.key(), read_icm_training(out(u.training_record())), evaluated,
                               ds + " fold " + std::to_string(f) + " test volumes");
            auto& slot = icm_nets_[u.key()];
            if (!slot) {
                if (!u.shared()) icm_nets_per_fold_.push_back(u.key());
                while (icm_nets_per_fold_.size() > 2) {  // a per-fold pair is used by its fold's units only
                    icm_nets_.erase(icm_nets_per_fold_.front());
                    icm_nets_per_fold_.erase(icm_nets_per_fold_.begin());
                }
                slot = nn::load_model<float>(out(u.model()));  // on the CPU; evaluation runs it on the device
                slot->to(dev_.device);
            }
            nets[i++] = slot.get();
        }
        return icm_masks(*nets[0], *nets[1], lv, cases, c_.threshold);
    }

    // ---- phantoms ----
    void phantoms_unit() {
        log("generating phantoms under ", o_.data_root);
        const auto t0 = std::chrono::steady_clock::now();
        io::make_dirs(o_.data_root);
        for (const auto& l : generate_phantoms(o_.data_root, c_)) log("  ", l);
        io::write_file_atomic(o_.data_root + "/ichseg-phantoms.json", phantom_spec().dump(2) + "\n");
        log("  phantoms written in ", io::format("%.1f", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()), " s");
    }

    // ---- ICM ----
    /// The ICM set's cases a unit trains on: all of them for the shared pair (which must be disjoint from every
    /// dataset that uses it: refused otherwise, before any training), all but the fold's test volumes for a
    /// per-fold pair.
    std::vector<int64_t> icm_training_cases(const IcmUnit& u, std::vector<std::string>& excluded) {
        ensure_volumes();
        std::vector<VolumeIdentity> test;
        if (u.shared()) {
            for (const std::string ds : {"physionet", "segcq500"})
                if (!c_.icm_is_per_fold(ds))
                    check_icm_disjoint(u.key(), icm_data_.identity, volumes(ds).identity,
                                       "the " + ds + " volumes, which the shared ICM post-processes");
        } else {
            const LoadedVolumes& lv = volumes(u.dataset);
            for (int64_t c : folds(u.dataset).at(static_cast<size_t>(u.fold)).test)
                test.push_back(lv.identity[static_cast<size_t>(c)]);
        }
        std::vector<int64_t> cases;
        for (int64_t c = 0; c < icm_data_.num_cases(); ++c) {
            const VolumeIdentity& id = icm_data_.identity[static_cast<size_t>(c)];
            bool out = false;
            for (const VolumeIdentity& t : test) out = out || same_volume(id, t);
            if (out) excluded.push_back(id.id);
            else cases.push_back(c);
        }
        ICHSEG_CHECK(!cases.empty(), "[", u.key(), "] no ICM training volume is left once the fold's test volumes "
                     "are excluded");
        return cases;
    }

    void icm_unit(const Unit& unit) {
        const IcmUnit u{unit.net, unit.dataset, unit.fold};
        io::make_dirs(fs::path(out(u.model())).parent_path().string());
        std::vector<std::string> excluded;
        const std::vector<int64_t> cases = icm_training_cases(u, excluded);
        const bool tissue = u.net == "tissue";
        const data::Window window = tissue ? data::Window::tissue() : data::Window::bone();
        const StageSpec& stage = tissue ? c_.icm_tissue : c_.icm_bone;
        RunSpec r = run_spec(unit.key, stage);
        Generator gen(r.seed);
        nn::UNet<float> net(c_.unet_config(), gen);
        const auto& src = tissue ? icm_data_.tissue : icm_data_.bone;
        const std::vector<int64_t> slices = data::slices_of_cases(*src, cases);
        log("[", unit.key, "] training on ", slices.size(), " slices of ", cases.size(), " volumes with cavity masks",
            excluded.empty() ? std::string()
                             : " (" + std::to_string(excluded.size()) + " left out: the test volumes of " + u.dataset +
                                   " fold " + std::to_string(u.fold) + ")");
        train_segmentation(net, c_, r, src, slices, 1.0);
        unit_flops_ = cost::segmentation(c_, static_cast<int64_t>(slices.size()), stage);
        nlohmann::json rec = {{"icm", unit.key}, {"excluded", excluded}, {"volumes", nlohmann::json::array()}};
        for (int64_t c : cases) {
            const VolumeIdentity& id = icm_data_.identity[static_cast<size_t>(c)];
            rec["volumes"].push_back(
                {{"id", id.id}, {"fingerprint", io::format("%016llx", static_cast<unsigned long long>(id.fingerprint))}});
        }
        nn::ModelInfo info;  // an ICM model file as ichseg_predict --icm-tissue / --icm-bone expects it
        info.window_lo = window.lo;
        info.window_hi = window.hi;
        info.input_size = c_.input_size;
        info.target = "cavity";
        info.description = "study " + c_.profile + ": " + unit.key + " (intracranial cavity)";
        check_lease();
        io::write_file_atomic(out(u.training_record()), rec.dump(1) + "\n");  // before the model: read with it
        nn::save_model(net, info, unit.outputs.front());
    }

    // ---- pretext tasks + t-SNE ----
    static Pretext pretext_of(const std::string& key) {
        for (const PretextName& n : pretext_names())
            if (key == n.key) return n.task;
        fail("unknown pretext task '", key, "'");
    }
    void pretext_unit(const Unit& u) {
        io::make_dirs(out("models/pretext"));
        const Pretext p = pretext_of(u.net);
        PretextSet& ps = pretext_set();
        const StageSpec& s = p == Pretext::context_restoration ? c_.context_restoration
                             : p == Pretext::global_contrastive ? c_.global_contrastive
                             : p == Pretext::local_contrastive  ? c_.local_contrastive
                                                                : c_.classification;
        RunSpec r = run_spec(u.key, s);
        log("[", r.name, "] training (", s.epochs, " epochs, batch ", s.batch_size, ")");
        train_pretext(p, c_, r, ps.src, ps.split.train, u.outputs.front(),
                      out(outputs::pretext_weights(pretext_key(Pretext::global_contrastive))));
        unit_flops_ = cost::pretext(c_, p, static_cast<int64_t>(ps.split.train.size()));
    }
    void tsne_unit(const Unit& u) {
        io::make_dirs(out("figures"));
        const Pretext p = pretext_of(u.net);
        PretextSet& ps = pretext_set();
        tsne_figure(p, ps.src, ps.split.validation);
        const double n = static_cast<double>(ps.split.validation.size());
        unit_flops_ = cost::encoder(c_.unet_config(), c_.input_size) * n + 20.0 * n * n * c_.tsne_iterations;
    }
    std::string pretext_weights(Pretext p) const { return out(outputs::pretext_weights(pretext_key(p))); }
    std::string tsne_png(Pretext p) const { return out(outputs::tsne_png(pretext_key(p))); }

    /// Figure 5: t-SNE of the pooled bottleneck of the pretext model's encoder on the validation images.
    void tsne_figure(Pretext p, const std::shared_ptr<data::RsnaSliceSource>& src, const std::vector<int64_t>& val) {
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
                subs.push_back(eval::subtype_bits(l));
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
        check_lease();
        eval::write_figure5(tsne_png(p), spec);
        log("[t-SNE ", pretext_key(p), "] ", n, " points, KL ", io::format("%.3f", t.kl_divergence), " -> ", tsne_png(p));
    }

    // ---- folds ----
    std::string fold_result(const std::string& ds, const std::string& m, int k) const {
        return out(outputs::fold_result(ds, m, k));
    }

    /// A fresh U-Net for `method` (seeded by the unit's key), with the pretext model's matching tensors copied in
    /// for a transferred method; the transfer report goes to `transfer_json` (and the log).
    std::unique_ptr<nn::UNet<float>> make_net(const std::string& method, const RunSpec& r, nlohmann::json& transfer,
                                              const std::string& transfer_file) {
        Generator gen(r.seed);
        auto net = std::make_unique<nn::UNet<float>>(c_.unet_config(), gen);
        if (is_transfer_method(method)) {
            const std::string w = out(outputs::pretext_weights(method));
            const nn::TransferReport tr = nn::load_matching(*net, w);
            transfer = {{"from", w}, {"copied", tr.copied}, {"missing", tr.missing},
                        {"shape_mismatch", tr.shape_mismatch}, {"unused", tr.unused}};
            if (!transfer_file.empty()) io::write_file_atomic(transfer_file, transfer.dump(2) + "\n");
            log("[", r.name, "] transfer from ", w, ": ", tr.copied.size(), " tensors copied, ", tr.missing.size(),
                " kept at initialisation, ", tr.unused.size(), " unused");
        }
        return net;
    }

    /// The training slices of `method` among `train_slices`: ICH slices (ICH-only, alpha 1) or the Mixed subset
    /// drawn with `mixed_seed` (every Mixed-recipe method of the same fold / draw gets the same).
    std::vector<int64_t> method_slices(const LoadedVolumes& lv, const std::string& method,
                                       const std::vector<int64_t>& train_slices, uint64_t mixed_seed) const {
        if (method == "ich_only") return data::ich_slices(*lv.seg, &train_slices);
        return data::select_mixed(*lv.seg, train_slices, c_.mixed_ratio, mixed_seed);
    }

    void fold_unit(const Unit& u) {
        const std::string& ds = u.dataset;
        const std::string& m = u.method;
        const int f = u.fold;
        const LoadedVolumes& lv = volumes(ds);
        const eval::Fold& fold = folds(ds).at(static_cast<size_t>(f));
        const StageSpec& spec = ds == "physionet" ? c_.physionet_supervised : c_.segcq500_supervised;
        io::make_dirs(out("results/" + ds + "/" + m));
        io::make_dirs(out("models/" + ds + "/" + m));
        const std::vector<int64_t> train_slices = data::slices_of_cases(*lv.seg, fold.train);
        // drawn once per fold with a fixed seed: the same subset for every Mixed-recipe method
        const std::vector<int64_t> slices =
            method_slices(lv, m, train_slices, detail::unit_seed(c_.seed, ds + "/mixed/" + std::to_string(f)));
        const double alpha = m == "ich_only" ? 1.0 : c_.alpha;
        RunSpec r = run_spec(u.key, spec);
        nlohmann::json transfer;
        auto net = make_net(m, r, transfer, out("results/" + ds + "/" + m + "/fold" + std::to_string(f) + ".transfer.json"));
        log("[", r.name, "] training on ", slices.size(), " slices of ", fold.train.size(), " volumes");
        const train::FitResult fr = train_segmentation(*net, c_, r, lv.seg, slices, alpha);
        const std::string model = out(outputs::fold_model(ds, m, f));
        nn::ModelInfo info;  // an ICH model file for ichseg_predict -m
        const data::Window sw = data::Window::segmentation();
        info.window_lo = sw.lo;
        info.window_hi = sw.hi;
        info.input_size = c_.input_size;
        info.target = "ich";
        info.description = "study " + c_.profile + ": " + ds + " " + m + " fold " + std::to_string(f);
        const std::map<int64_t, std::vector<uint8_t>> icm = icm_of(ds, f, fold.test);
        const FoldEvaluation ev = evaluate_fold(*net, lv, fold.test, f, c_.threshold, &icm);
        nlohmann::json j = {{"dataset", ds},
                            {"method", m},
                            {"fold", f},
                            {"train_volumes", fold.train.size()},
                            {"train_slices", slices.size()},
                            {"epoch_loss", fr.epoch_loss},
                            {"resumed", fr.resumed},
                            {"device", dev_.device.str()},
                            {"model", model},
                            {"plain", eval::volumes_json(ev.plain)},
                            {"icm", eval::volumes_json(ev.with_icm)}};
        if (!transfer.is_null()) j["transfer"] = transfer.at("from");
        check_lease();
        nn::save_model(*net, info, model);
        io::write_file_atomic(u.outputs.front(), j.dump(1) + "\n");
        int64_t test_slices = 0;
        for (const auto& v : ev.plain) test_slices += v.n_slices;
        unit_flops_ = cost::segmentation(c_, static_cast<int64_t>(slices.size()), spec) +
                      3 * cost::unet(c_.unet_config(), c_.input_size) * static_cast<double>(test_slices);
        const auto all = eval::summarize_volumes(ev.plain, eval::all_volumes());
        const auto ich = eval::summarize_volumes(ev.with_icm, eval::ich_volumes());
        log("[", r.name, "] ", ev.plain.size(), " test volumes: mean Dice ", io::format("%.3f", all.dice.mean),
            "; ICH volumes with ICM: Dice ", io::format("%.3f", ich.dice.mean), ", precision ",
            io::format("%.3f", ich.precision.mean), ", recall ", io::format("%.3f", ich.recall.mean));
    }

    // ---- the label-budget experiment ----
    void budget_unit(const Unit& u) {
        const std::string& ds = u.dataset;
        const std::string& m = u.method;
        const int f = u.fold;
        const LoadedVolumes& lv = volumes(ds);
        const eval::Fold& fold = folds(ds).at(static_cast<size_t>(f));
        io::make_dirs(fs::path(u.outputs.front()).parent_path().string());
        nlohmann::json j = {{"dataset", ds}, {"method", m}, {"fold", f}, {"budget", u.budget}, {"draw", u.draw}};
        if (u.budget >= static_cast<int64_t>(fold.train.size())) {
            j["skipped"] = "the budget (" + std::to_string(u.budget) + " volumes) is not smaller than the fold's " +
                           std::to_string(fold.train.size()) + " training volumes";
            log("[", u.key, "] skipped: ", j["skipped"].get<std::string>());
            io::write_file_atomic(u.outputs.front(), j.dump(1) + "\n");
            return;
        }
        const std::string draw_key =
            ds + "/fold" + std::to_string(f) + "/n" + std::to_string(u.budget) + "/d" + std::to_string(u.draw);
        const std::vector<int64_t> cases =
            draw_budget_cases(fold.train, lv.has_ich, u.budget, detail::unit_seed(c_.seed, "budget/" + draw_key));
        const std::vector<int64_t> slices = method_slices(lv, m, data::slices_of_cases(*lv.seg, cases),
                                                          detail::unit_seed(c_.seed, "budget/mixed/" + draw_key));
        // the same method on all of the fold's training volumes: the step count of the "steps" schedule
        const std::vector<int64_t> full = method_slices(lv, m, data::slices_of_cases(*lv.seg, fold.train),
                                                        detail::unit_seed(c_.seed, ds + "/mixed/" + std::to_string(f)));
        const StageSpec& spec = ds == "physionet" ? c_.physionet_supervised : c_.segcq500_supervised;
        const BudgetSchedule sched =
            budget_schedule(c_.label_budget.schedule, spec, c_.lr_decay, static_cast<int64_t>(full.size()),
                            static_cast<int64_t>(std::max<size_t>(slices.size(), 1)));
        std::vector<std::string> ids;
        for (int64_t c : cases) ids.push_back(lv.seg->case_id(c));
        j["train_volumes"] = ids;
        j["train_slices"] = slices.size();
        j["epochs"] = sched.stage.epochs;
        j["lr_decay"] = sched.lr_decay;
        if (slices.empty()) {
            j["skipped"] = "no training slice for this method in the drawn volumes";
            io::write_file_atomic(u.outputs.front(), j.dump(1) + "\n");
            return;
        }
        RunSpec r = run_spec(u.key, sched.stage);
        r.lr_decay = sched.lr_decay;
        nlohmann::json transfer;
        auto net = make_net(m, r, transfer, "");
        log("[", r.name, "] training on ", slices.size(), " slices of ", cases.size(), " volumes for ",
            sched.stage.epochs, " epochs");
        const train::FitResult fr = train_segmentation(*net, c_, r, lv.seg, slices, m == "ich_only" ? 1.0 : c_.alpha);
        const FoldEvaluation ev = evaluate_fold(*net, lv, fold.test, f, c_.threshold, nullptr);
        j["epoch_loss"] = fr.epoch_loss;
        j["device"] = dev_.device.str();
        j["plain"] = eval::volumes_json(ev.plain);
        check_lease();
        io::write_file_atomic(u.outputs.front(), j.dump(1) + "\n");
        int64_t test_slices = 0;
        for (const auto& v : ev.plain) test_slices += v.n_slices;
        unit_flops_ = cost::segmentation(c_, static_cast<int64_t>(slices.size()), sched.stage) +
                      cost::unet(c_.unet_config(), c_.input_size) * static_cast<double>(test_slices);
        const auto all = eval::summarize_volumes(ev.plain, eval::all_volumes());
        log("[", r.name, "] ", ev.plain.size(), " test volumes: mean Dice ", io::format("%.3f", all.dice.mean));
    }

    void budget_report_unit() {
        io::make_dirs(out("tables"));
        io::make_dirs(out("figures"));
        std::vector<BudgetCell> cells;
        for (const std::string& ds : c_.label_budget.datasets) {
            const int k = ds == "physionet" ? c_.physionet_folds : c_.segcq500_folds;
            for (const std::string& m : fold_methods())
                for (int64_t b : c_.label_budget.budgets) {
                    BudgetCell cell;
                    cell.dataset = ds;
                    cell.method = m;
                    cell.budget = b;
                    bool usable = true;
                    double vols = 0;
                    int nvol = 0;
                    const int draws = b == 0 ? 1 : c_.label_budget.draws;
                    for (int d = 0; d < draws && usable; ++d) {
                        std::vector<eval::VolumeResult> pooled;
                        for (int f = 0; f < k && usable; ++f) {
                            const std::string path = b == 0 ? fold_result(ds, m, f)
                                                            : out(outputs::budget_result(budget_unit_key(ds, m, b, d, f)));
                            const nlohmann::json j = io::read_json_file(path);
                            if (j.contains("skipped")) {
                                usable = false;
                                break;
                            }
                            const auto v = eval::volumes_from_json(j.at("plain"), path);
                            pooled.insert(pooled.end(), v.begin(), v.end());
                            vols += b == 0 ? j.at("train_volumes").get<double>()
                                           : static_cast<double>(j.at("train_volumes").size());
                            ++nvol;
                        }
                        cell.draws.push_back(std::move(pooled));
                    }
                    if (!usable) continue;
                    cell.train_volumes = vols / std::max(1, nvol);
                    cells.push_back(std::move(cell));
                }
        }
        const std::vector<BudgetPoint> pts = summarize_budget(cells);
        for (const std::string& ds : c_.label_budget.datasets) {
            eval::BudgetFigureSpec spec;
            spec.title = std::string("Volume Dice versus labelled training volumes, ") +
                         (ds == "physionet" ? "PhysioNet CT-ICH layout" : "Seg-CQ500 layout");
            for (const std::string& m : fold_methods()) {
                eval::BudgetCurve curve;
                curve.label = method_title(m);
                for (const BudgetPoint& p : pts)
                    if (p.dataset == ds && p.method == m)
                        curve.points.push_back({p.train_volumes, p.mean, p.ci_lo, p.ci_hi, p.budget == 0,
                                                !std::isnan(p.p_vs_mixed) && p.p_vs_mixed < 0.05});
                if (!curve.points.empty()) spec.curves.push_back(curve);
            }
            if (!spec.curves.empty()) eval::write_budget_figure(out("figures/label_budget_" + ds + ".png"), spec);
        }
        check_lease();
        io::write_file_atomic(out(outputs::budget_csv()), budget_csv(pts));
        log("[label_budget_report] ", pts.size(), " points -> ", out(outputs::budget_csv()));
    }
    static std::string method_title(const std::string& m) {
        if (m == "ich_only") return "U-Net ICH-only";
        if (m == "mixed") return "U-Net mixed";
        for (const PretextName& n : pretext_names())
            if (m == n.key) return n.title;
        return m;
    }

    // ---- pooled results ----
    std::vector<eval::MethodResults> pooled(const std::string& ds, const std::vector<RowSpec>& specs) const {
        const int k = ds == "physionet" ? c_.physionet_folds : c_.segcq500_folds;
        std::vector<eval::MethodResults> rows;
        for (const RowSpec& row : specs) {
            eval::MethodResults mr;
            mr.method = row.title;
            for (int f = 0; f < k; ++f) {
                const std::string path = fold_result(ds, row.method, f);
                const nlohmann::json j = io::read_json_file(path);
                ICHSEG_CHECK(j.contains("plain") && j.contains("icm"), path, ": missing 'plain' / 'icm' records");
                auto v = eval::volumes_from_json(j.at(row.icm ? "icm" : "plain"), path);
                mr.volumes.insert(mr.volumes.end(), v.begin(), v.end());
            }
            rows.push_back(std::move(mr));
        }
        return rows;
    }

    /// What the table is: the profile, whether the data are phantoms, and the profile's note.
    std::string table_preamble() const {
        std::string p = "Profile `" + c_.profile + "`";
        const std::string marker = o_.data_root + "/ichseg-phantoms.json";
        if (train::file_exists(marker))
            p += "; data: synthetic head-CT phantoms written by ichseg_reproduce --generate-phantoms (" + marker +
                 "), not the real datasets";
        p += ".\n\n";
        if (!c_.table_note.empty()) p += c_.table_note + "\n\n";
        return p;
    }

    void report_unit() {
        io::make_dirs(out("tables"));
        std::map<std::string, std::vector<eval::MethodResults>> res, full;
        const std::vector<RowSpec> specs = all_rows();
        for (const std::string ds : {"physionet", "segcq500"}) {
            res[ds] = pooled(ds, table3_rows());
            full[ds] = pooled(ds, specs);
            const auto& rows = res[ds];
            eval::write_volume_csv(out("tables/" + ds + "_volumes.csv"), full[ds]);
            for (const auto& r : full[ds]) {
                const std::string dir = out("results/" + ds + "/rows/" + detail::slug(r.method));
                io::make_dirs(dir);
                eval::write_volume_csv(dir + "/volumes.csv", r);
                eval::SummaryOptions so;
                so.dataset = ds == "physionet" ? "PhysioNet CT-ICH (Hssayeni) layout" : "Seg-CQ500 layout";
                so.threshold = c_.threshold;
                eval::write_summary_json(dir + "/summary.json", r, so);
            }
            // Welch tests between Table 3's rows (Figure 4), and between the masked rows only (like with like)
            std::vector<eval::MethodResults> masked;
            for (size_t i = 0; i < specs.size(); ++i)
                if (specs[i].icm) masked.push_back(full[ds][i]);
            for (eval::Metric m : eval::all_metrics()) {
                const std::string metric = detail::slug(eval::metric_name(m));
                eval::write_pvalue_csv(out("tables/pvalues_" + ds + "_" + metric + ".csv"), eval::pairwise_welch(rows, m));
                eval::write_pvalue_csv(out("tables/pvalues_" + ds + "_icm_" + metric + ".csv"),
                                       eval::pairwise_welch(masked, m));
                if (ds == "physionet") {
                    eval::write_pvalue_csv(out("tables/pvalues_physionet_ich_" + metric + ".csv"),
                                           eval::pairwise_welch(rows, m, eval::ich_volumes()));
                    eval::write_pvalue_csv(out("tables/pvalues_physionet_ich_icm_" + metric + ".csv"),
                                           eval::pairwise_welch(masked, m, eval::ich_volumes()));
                }
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
        auto table = [](const std::vector<eval::MethodResults>& ph, const std::vector<eval::MethodResults>& cq) {
            std::vector<eval::Table3Row> t;
            for (size_t i = 0; i < ph.size(); ++i)
                t.push_back(eval::make_table3_row(ph[i].method, &ph[i].volumes, &cq[i].volumes));
            return t;
        };
        const std::string pre = table_preamble();
        check_lease();
        io::write_file_atomic(out("tables/table3_full.md"),
                              pre + eval::table3_markdown(table(full.at("physionet"), full.at("segcq500")),
                                                          eval::Table3Layout::full) +
                                  "\nThe rows \"<method> + ICM\" are the transferred models with the ICM post-processing; "
                                  "Table 3 reports them without it, as the paper does (SPEC §7).\n");
        // last: its existence means the report is complete
        io::write_file_atomic(out(outputs::table3()),
                              pre + eval::table3_markdown(table(res.at("physionet"), res.at("segcq500"))));
    }

    StudyOptions o_;
    StudyConfig c_;
    DeviceChoice dev_;
    StudyResult result_;
    Plan plan_;
    std::unique_ptr<WorkQueue> queue_;
    Lease* lease_ = nullptr;  ///< the claim of the unit being run
    double unit_flops_ = 0;   ///< its cost, recorded in <unit>.done for the plan's time estimates
    std::string worker_log_;
    bool waiting_logged_ = false;
    std::map<std::string, LoadedVolumes> volumes_;
    LoadedVolumes icm_data_;
    std::map<std::string, std::vector<eval::Fold>> folds_;
    std::unique_ptr<PretextSet> pretext_;
    std::map<std::string, std::shared_ptr<nn::UNet<float>>> icm_nets_;  ///< loaded ICM nets by unit key
    std::vector<std::string> icm_nets_per_fold_;                         ///< the per-fold ones, oldest first
};

inline StudyResult run_study(const StudyOptions& o) { return Study(o).run(); }

}  // namespace ichseg::study
