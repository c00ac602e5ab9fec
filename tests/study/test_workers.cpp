/// @file test_workers.cpp (study)
/// @brief ichseg_reproduce as several workers of one output folder (tiny profile): three workers, one of them
/// killed with -9 in the middle of the ICM unit, produce the Table 3 of one process alone, every unit finishes
/// exactly once (the workers' logs), the killed unit is taken over and resumed from its checkpoint; --plan shows
/// the units' states and costs before, and the measured times after; the Slurm job-array script runs the study
/// through stand-in sbatch / srun commands (tests/study/slurm_shim) as docs/study.md documents it.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "ichseg/study/pipeline.hpp"
#include "study_test_util.hpp"

namespace test_study_workers {

using namespace ichseg;
namespace fs = std::filesystem;
using test::read_file;

std::string fresh_dir(const std::string& name) { return test::fresh_dir("study_workers", name); }

/// Run `args` with stdout+stderr to `log` and extra environment `env` ("NAME=value"); returns the pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log, const std::vector<std::string>& env = {}) {
    std::fflush(stdout);  // or the child's freopen would write the test's pending output a second time
    std::fflush(stderr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        FILE* f = std::freopen(log.c_str(), "w", stdout);
        if (!f || ::dup2(::fileno(stdout), 2) < 0) ::_exit(126);
        for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

/// The events of every worker log under <out>/queue/log: per unit, how often each event happened, and per
/// (event, unit) the pids (from the "start" line of each log) that logged it.
struct Events {
    std::map<std::string, std::map<std::string, int>> count;  ///< event -> unit -> n
    std::map<std::string, std::vector<std::string>> lines;    ///< unit -> "event detail" lines
    int logs = 0;
};
Events read_events(const std::string& out) {
    Events ev;
    for (const auto& e : fs::directory_iterator(out + "/queue/log")) {
        ++ev.logs;
        std::istringstream in(read_file(e.path().string()));
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            std::string time, event, unit;
            ls >> time >> event >> unit;
            ev.count[event][unit] += 1;
            ev.lines[unit].push_back(line);
        }
    }
    return ev;
}

std::vector<std::string> temporaries(const std::string& root) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path().string());
    return out;
}

std::vector<std::string> plan_keys(const std::string& cfg, const std::string& data, const std::string& out,
                                   bool phantoms) {
    study::StudyOptions o;
    o.config = study::load_config(cfg, "tiny");
    o.data_root = data;
    o.out = out;
    o.generate_phantoms = phantoms;
    std::vector<std::string> keys;
    for (const auto& u : study::Study::make_plan(o, study::DataSizes{}).units) keys.push_back(u.key);
    return keys;
}

TEST_CASE("three workers, one killed with -9 inside a unit, write the Table 3 of one process and run each unit once",
          "[study][workers]") {
    const std::string dir = fresh_dir("three");
    // The tiny profile with a longer ICM tissue stage and a checkpoint after every batch, so that the kill lands
    // inside its training, after a checkpoint.
    const std::string cfg = dir + "/config.json";
    std::ofstream(cfg) << R"({"profile": "tiny", "checkpoint_every": 1, "stages": {"icm_tissue": {"epochs": 40, "batch_size": 4}}})";
    const std::string data = dir + "/data";
    auto args = [&](const std::string& out, bool worker) {
        std::vector<std::string> a{ICHSEG_REPRODUCE_EXE, "--config", cfg, "--data", data, "--out", out, "--threads", "1",
                                   "--quiet"};
        if (worker) a.insert(a.end(), {"--worker", "--poll", "0.1", "--heartbeat", "0.2", "--lease", "30"});
        return a;
    };
    // one process alone (it also writes the phantoms)
    std::vector<std::string> single = args(dir + "/single", false);
    single.push_back("--generate-phantoms");
    REQUIRE(wait_exit(spawn(single, dir + "/single.log")) == 0);
    const std::string table1 = read_file(dir + "/single/tables/table3.md");
    REQUIRE(!table1.empty());

    // three workers on a fresh output folder
    const std::string out = dir + "/shared";
    std::vector<pid_t> pids;
    for (int w = 0; w < 3; ++w) pids.push_back(spawn(args(out, true), dir + "/worker" + std::to_string(w) + ".log"));
    // kill -9 the worker that holds the ICM tissue unit once that unit has written a checkpoint
    const std::string claim = out + "/queue/icm_tissue.claim.0", ckpt = out + "/work/icm_tissue.ckpt";
    pid_t victim = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (std::chrono::steady_clock::now() < deadline) {
        if (fs::exists(ckpt) && fs::exists(claim) && fs::file_size(claim) > 0) {
            victim = static_cast<pid_t>(nlohmann::json::parse(read_file(claim)).at("pid").get<long>());
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE(victim > 0);
    REQUIRE(std::find(pids.begin(), pids.end(), victim) != pids.end());
    ::kill(victim, SIGKILL);  // not reaped yet: a zombie counts as gone (the others take over at once)
    CHECK(!fs::exists(out + "/models/icm_tissue.safetensors"));  // killed in the middle of the unit
    for (pid_t p : pids) {
        const int rc = wait_exit(p);
        INFO("worker " << p << " log:\n" << read_file(dir + "/worker" + std::to_string(std::find(pids.begin(), pids.end(), p) - pids.begin()) + ".log"));
        CHECK(rc == (p == victim ? -SIGKILL : 0));
    }

    // the same Table 3 as one process alone
    CHECK(read_file(out + "/tables/table3.md") == table1);

    // every unit of the plan finished exactly once; only the killed unit was started twice
    const Events ev = read_events(out);
    CHECK(ev.logs == 3);
    const std::vector<std::string> keys = plan_keys(cfg, data, out, false);
    CHECK(keys.size() == 2 + 6 + 6 + 8 * 4 + 1);
    for (const std::string& k : keys) {
        INFO("unit " << k);
        CHECK(ev.count.at("finish").count(k) == 1);
        if (ev.count.at("finish").count(k)) CHECK(ev.count.at("finish").at(k) == 1);
        CHECK(ev.count.at("start").at(k) == (k == "icm_tissue" ? 2 : 1));
    }
    CHECK(ev.count.at("finish").size() == keys.size());  // nothing else finished
    // the second start of the ICM unit took it over from the dead worker and resumed from the checkpoint
    std::string takeover;
    for (const auto& l : ev.lines.at("icm_tissue"))
        if (l.find("start") != std::string::npos && l.find("attempt 1") != std::string::npos) takeover = l;
    INFO("icm_tissue events:\n" << [&] { std::string s; for (const auto& l : ev.lines.at("icm_tissue")) s += l + "\n"; return s; }());
    CHECK(takeover.find("taking over from") != std::string::npos);
    CHECK(takeover.find(":" + std::to_string(victim) + " (process gone)") != std::string::npos);
    CHECK(takeover.find("checkpoint") != std::string::npos);
    CHECK(fs::exists(out + "/queue/icm_tissue.claim.1"));
    const nlohmann::json done = io::read_json_file(out + "/queue/icm_tissue.done");
    CHECK(done.at("attempt") == 1);
    CHECK(done.at("worker").at("pid").get<long>() != victim);
    // the resumed unit's checkpoint is gone, its model valid, and no temporary is left (the killed worker's were
    // removed by the worker that took its unit over)
    CHECK(!fs::exists(ckpt));
    REQUIRE_NOTHROW(nn::load_model<float>(out + "/models/icm_tissue.safetensors"));
    CHECK(temporaries(out).empty());

    // --plan on the finished folder: every unit done, and times at the rate measured here
    const std::string plan_log = dir + "/plan.log";
    std::vector<std::string> plan = args(out, false);
    plan.push_back("--plan");
    REQUIRE(wait_exit(spawn(plan, plan_log)) == 0);
    const std::string text = read_file(plan_log);
    INFO(text);
    CHECK(text.find("plan: " + std::to_string(keys.size()) + " units (" + std::to_string(keys.size()) + " done)") !=
          std::string::npos);
    CHECK(text.find("times: at the rate measured on cpu (") != std::string::npos);
}

TEST_CASE("the plan (--plan) before a run: units, dependencies, states and FLOPs, and nothing is run or written", "[study][workers]") {
    const std::string dir = fresh_dir("plan");
    const std::string log = dir + "/plan.log";
    const std::vector<std::string> args{ICHSEG_REPRODUCE_EXE, "--plan", "--profile", "tiny", "--label-budget", "--data",
                                        dir + "/data", "--out", dir + "/out", "--generate-phantoms"};
    REQUIRE(wait_exit(spawn(args, log)) == 0);
    const std::string text = read_file(log);
    INFO(text);
    // tiny: phantoms + 2 ICM + 6 pretext + 6 t-SNE + 32 fold units + report; label budget: budget 1 x 2 draws x
    // 8 methods x 2 folds + its report (budget "all" reuses the fold units)
    const int n = 1 + 2 + 6 + 6 + 32 + 1 + 2 * 8 * 2 + 1;
    CHECK(text.find("plan: " + std::to_string(n) + " units (1 ready, " + std::to_string(n - 1) + " waiting)") !=
          std::string::npos);
    CHECK(text.find("sizes: the phantom settings of the config") != std::string::npos);
    for (const std::string stage : {"| phantoms | 1 |", "| ICM | 2 |", "| pretext | 6 |", "| t-SNE | 6 |",
                                    "| folds physionet | 16 |", "| folds segcq500 | 16 |", "| report | 1 |",
                                    "| label budget physionet | 32 |", "| label budget report | 1 |"})
        CHECK(text.find(stage) != std::string::npos);
    CHECK(text.find("ready    phantoms") != std::string::npos);
    CHECK(text.find("waiting  pretext_local_contrastive") != std::string::npos);
    CHECK(text.find("on phantoms (+1 more)") != std::string::npos);  // local contrastive also waits on global
    CHECK(text.find("FLOP") != std::string::npos);
    CHECK(!fs::exists(dir + "/out"));  // nothing written
    CHECK(!fs::exists(dir + "/data"));
}

TEST_CASE("the Slurm job-array script runs the study through stand-in sbatch and srun", "[study][workers][slurm]") {
    const std::string dir = fresh_dir("slurm");
    const std::string shim = std::string(ICHSEG_SOURCE_DIR) + "/tests/study/slurm_shim";
    const std::string script = std::string(ICHSEG_SOURCE_DIR) + "/tools/slurm/reproduce_array.sh";
    const std::vector<std::string> env{"PATH=" + shim + ":" + std::getenv("PATH"), "ICHSEG_PROFILE=tiny",
                                       "ICHSEG_DATA=" + dir + "/data", "ICHSEG_OUT=" + dir + "/out",
                                       std::string("ICHSEG_REPRODUCE=") + ICHSEG_REPRODUCE_EXE,
                                       "ICHSEG_ARGS=--generate-phantoms --poll 0.1"};
    // as docs/study.md shows it, with the array, CPUs and log names of this test
    const std::vector<std::string> args{"sbatch", "--wait", "--array=0-2", "--cpus-per-task=1",
                                        "--output=" + dir + "/ichseg-study-%A_%a.log", script};
    const int rc = wait_exit(spawn(args, dir + "/sbatch.log", env));
    std::string logs;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".log") logs += e.path().string() + ":\n" + read_file(e.path().string()) + "\n";
    INFO(logs);
    REQUIRE(rc == 0);
    int tasks = 0;
    for (int t = 0; t < 3; ++t)
        for (const auto& e : fs::directory_iterator(dir)) {
            const std::string n = e.path().filename().string();
            if (n.rfind("ichseg-study-", 0) == 0 && n.find("_" + std::to_string(t) + ".log") != std::string::npos) {
                ++tasks;
                const std::string text = read_file(e.path().string());
                CHECK(text.find("array task " + std::to_string(t)) != std::string::npos);
                CHECK(text.find("profile tiny, 1 threads") != std::string::npos);  // --threads from the CPUs per task
            }
        }
    CHECK(tasks == 3);
    const std::string table = read_file(dir + "/out/tables/table3.md");
    for (const auto& row : study::table3_rows()) CHECK(table.find("| " + row.title + " |") != std::string::npos);
    const Events ev = read_events(dir + "/out");
    CHECK(ev.logs == 3);
    const std::vector<std::string> keys =
        plan_keys(std::string(ICHSEG_CONFIG_DIR) + "/tiny.json", dir + "/data", dir + "/out", true);
    CHECK(ev.count.at("finish").size() == keys.size());
    for (const auto& [unit, n] : ev.count.at("finish")) {
        INFO(unit);
        CHECK(n == 1);
    }
}

}  // namespace test_study_workers
