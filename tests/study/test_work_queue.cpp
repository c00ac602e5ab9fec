/// @file test_work_queue.cpp (study)
/// @brief The claim code of the shared-folder work queue (study/work_queue.hpp), without the study: many worker
/// processes on many small units never run a unit twice; a claim of a dead process of this machine is taken over
/// at once; a claim of another node only after its lease expired by the filesystem's clock and the watcher saw
/// it unchanged for three heartbeats, so a live owner whose mtimes look old (clock skew) keeps its unit; an owner
/// that was taken over finds out (its lease is lost); a failed attempt is retried up to max_attempts; temporaries
/// of other nodes are left alone.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "ichseg/study/work_queue.hpp"
#include "study_test_util.hpp"

namespace test_study_work_queue {

using namespace ichseg;
namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) { return test::fresh_dir("study_work_queue", name); }

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

/// Set a file's mtime `seconds_ago` before now (a claim whose owner stopped renewing it long ago).
void age_file(const std::string& path, double seconds_ago) {
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    const double t = static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec) - seconds_ago;
    struct timespec ts[2];
    ts[0].tv_sec = static_cast<time_t>(std::floor(t));
    ts[0].tv_nsec = static_cast<long>((t - std::floor(t)) * 1e9);
    ts[1] = ts[0];
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, 0) == 0);
}

/// A worker's whole loop over `keys` (the study's loop in miniature): take the first claimable unit that is not
/// done, "run" it (an exclusive marker per run, a short sleep), record it done; stop when every unit is done.
void worker_loop(const study::QueueOptions& qo, const std::vector<std::string>& keys, const std::string& runs,
                 unsigned seed) {
    study::WorkQueue q(qo);
    std::vector<std::string> order = keys;
    std::mt19937 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);  // workers look at the units in different orders
    while (true) {
        const auto listing = q.list();
        const double now = q.fs_now();
        bool all_done = true, ran = false;
        for (const std::string& k : order) {
            auto it = listing.units.find(study::WorkQueue::file_name(k));
            study::ClaimView v = it == listing.units.end() ? study::ClaimView{} : it->second;
            if (v.done_record) continue;
            all_done = false;
            v = q.inspect(k, v, now);
            const int a = q.next_attempt(v);
            if (a < 0) continue;
            auto lease = q.try_claim(k, a);
            if (!lease) continue;
            if (::access(q.path(k, ".done").c_str(), F_OK) == 0) {  // finished since the listing: not run again
                lease->stop();
                continue;
            }
            // the run: one exclusive marker per (unit, process); a second run of a unit by anyone leaves a second file
            const std::string marker = runs + "/" + study::WorkQueue::file_name(k) + "." + std::to_string(::getpid());
            const int fd = ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
            if (fd >= 0) ::close(fd);
            std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 800));
            q.mark_done(*lease, {{"ran_by", static_cast<long>(::getpid())}});
            ran = true;
            break;
        }
        if (all_done) return;
        if (!ran) sleep_s(0.005);
    }
}

TEST_CASE("work queue: 12 worker processes on 300 small units run each unit exactly once", "[study][queue]") {
    const std::string dir = fresh_dir("many");
    const std::string runs = dir + "/runs";
    fs::create_directories(runs);
    study::QueueOptions qo;
    qo.dir = dir + "/queue";
    qo.lease_s = 60;  // nobody dies here: no takeover may happen
    qo.heartbeat_s = 0.05;
    std::vector<std::string> keys;
    for (int i = 0; i < 300; ++i) keys.push_back("set" + std::to_string(i % 3) + "/unit" + std::to_string(i));
    std::vector<pid_t> pids;
    for (int w = 0; w < 12; ++w) {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int rc = 0;
            try {
                worker_loop(qo, keys, runs, static_cast<unsigned>(w) * 7919u + 1u);
            } catch (...) {
                rc = 3;
            }
            ::_exit(rc);
        }
        pids.push_back(pid);
    }
    for (pid_t p : pids) {
        int st = 0;
        REQUIRE(::waitpid(p, &st, 0) == p);
        CHECK(WIFEXITED(st));
        CHECK(WEXITSTATUS(st) == 0);
    }
    // every unit: exactly one run marker, one claim (attempt 0, never taken over), one done record
    std::map<std::string, int> ran;
    std::set<long> workers_that_ran;
    for (const auto& e : fs::directory_iterator(runs)) {
        const std::string n = e.path().filename().string();
        ran[n.substr(0, n.rfind('.'))] += 1;
        workers_that_ran.insert(std::stol(n.substr(n.rfind('.') + 1)));
    }
    CHECK(ran.size() == keys.size());
    for (const std::string& k : keys) {
        INFO(k);
        CHECK(ran[study::WorkQueue::file_name(k)] == 1);
        CHECK(fs::exists(qo.dir + "/" + study::WorkQueue::file_name(k) + ".claim.0"));
        // a worker that saw a unit before its done record may claim attempt 1 after the first owner exited, but
        // then finds the record and does not run it (the marker count above)
        CHECK(!fs::exists(qo.dir + "/" + study::WorkQueue::file_name(k) + ".claim.2"));
    }
    CHECK(workers_that_ran.size() >= 2);  // the work was shared
}

TEST_CASE("work queue: a dead process of this machine loses its unit at once", "[study][queue]") {
    const std::string dir = fresh_dir("dead_local");
    study::QueueOptions qo;
    qo.dir = dir + "/queue";
    qo.lease_s = 3600;  // the lease plays no part: the owner is known to be gone
    qo.heartbeat_s = 0.1;
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        study::WorkQueue q(qo);
        auto lease = q.try_claim("a/unit", 0);
        ::pause();  // holds the claim (heartbeat running) until killed
        ::_exit(0);
    }
    study::WorkQueue q(qo);
    const std::string claim = q.path("a/unit", ".claim.0");
    for (int i = 0; i < 500 && !(fs::exists(claim) && fs::file_size(claim) > 0); ++i) sleep_s(0.01);
    REQUIRE(fs::file_size(claim) > 0);
    {
        const study::ClaimView v = q.inspect("a/unit", q.list().units.at("a.unit"), q.fs_now());
        CHECK(!v.owner_dead);
        CHECK(!v.takeover);
        CHECK(q.next_attempt(v) == -1);  // held by a live process
    }
    ::kill(pid, SIGKILL);
    // not reaped yet: a zombie, which kill(pid, 0) still finds; it counts as gone
    for (int i = 0; i < 500 && !io::process_is_zombie(pid); ++i) sleep_s(0.01);
    CHECK(io::process_is_zombie(pid));
    CHECK(q.inspect("a/unit", q.list().units.at("a.unit"), q.fs_now()).owner_dead);
    int st = 0;
    ::waitpid(pid, &st, 0);
    CHECK(!io::process_is_zombie(pid));
    const study::ClaimView v = q.inspect("a/unit", q.list().units.at("a.unit"), q.fs_now());
    CHECK(v.owner_dead);
    CHECK(v.takeover);
    REQUIRE(q.next_attempt(v) == 1);
    auto lease = q.try_claim("a/unit", 1);
    REQUIRE(lease);
    CHECK(!q.try_claim("a/unit", 1));  // the same attempt cannot be taken twice
}

TEST_CASE("work queue: another node's claim is taken over only after its lease, by the filesystem's clock",
          "[study][queue]") {
    const std::string dir = fresh_dir("lease");
    study::QueueOptions a, b;
    a.dir = b.dir = dir + "/queue";
    a.lease_s = b.lease_s = 2;
    a.heartbeat_s = b.heartbeat_s = 0.1;
    a.node = "node-a";
    b.node = "node-b";
    study::WorkQueue qa(a), qb(b);

    auto lease = qa.try_claim("u", 0);
    REQUIRE(lease);
    // a live owner renews its claim: node b never may take it over, however long it watches
    for (int i = 0; i < 8; ++i) {
        const study::ClaimView v = qb.inspect("u", qb.list().units.at("u"), qb.fs_now());
        CHECK(!v.owner_dead);  // another node: kill(pid, 0) says nothing about it
        CHECK(!v.takeover);
        sleep_s(0.1);
    }
    // the owner freezes (SIGSTOP, a node lost): no renewal
    lease->stop();
    CHECK(lease->check());  // still its claim
    // once the claim is older than the lease by the filesystem's clock, b takes it over after watching it
    // unchanged for three heartbeats
    age_file(qa.path("u", ".claim.0"), 10);
    study::ClaimView v = qb.inspect("u", qb.list().units.at("u"), qb.fs_now());
    CHECK(v.age_s > 9);
    const bool at_once = v.takeover;
    sleep_s(0.45);
    v = qb.inspect("u", qb.list().units.at("u"), qb.fs_now());
    CHECK(v.takeover);
    CHECK(!at_once);  // a fresh watcher waits
    REQUIRE(qb.next_attempt(v) == 1);
    auto taken = qb.try_claim("u", 1);
    REQUIRE(taken);
    // the old owner, back, finds its lease lost: it must not write the unit's results
    CHECK(!lease->check());
    CHECK(lease->lost());
    CHECK(taken->check());
}

TEST_CASE("work queue: a live owner whose mtimes look old (clock skew) keeps its unit", "[study][queue]") {
    const std::string dir = fresh_dir("skew");
    study::QueueOptions a, b;
    a.dir = b.dir = dir + "/queue";
    a.lease_s = b.lease_s = 1;
    a.heartbeat_s = b.heartbeat_s = 0.1;
    a.node = "node-a";
    b.node = "node-b";
    study::WorkQueue qa(a), qb(b);
    auto lease = qa.try_claim("u", 0);
    REQUIRE(lease);
    lease->stop();
    // node a's clock is an hour behind: each renewal stamps a time an hour old (but a new one each time)
    const std::string claim = qa.path("u", ".claim.0");
    for (int i = 0; i < 20; ++i) {
        age_file(claim, 3600 - 0.1 * i);
        const study::ClaimView v = qb.inspect("u", qb.list().units.at("u"), qb.fs_now());
        CHECK(v.age_s > 3000);
        CHECK(!v.takeover);  // changed since b last looked: its owner is alive
        sleep_s(0.05);
    }
}

TEST_CASE("work queue: failed attempts are retried up to max_attempts", "[study][queue]") {
    const std::string dir = fresh_dir("failed");
    study::QueueOptions qo;
    qo.dir = dir + "/queue";
    qo.max_attempts = 2;
    qo.heartbeat_s = 0.1;
    qo.lease_s = 10;
    study::WorkQueue q(qo);
    auto l0 = q.try_claim("u", 0);
    REQUIRE(l0);
    q.mark_failed(*l0, "disk full");
    study::ClaimView v = q.inspect("u", q.list().units.at("u"), q.fs_now());
    CHECK(v.last_failed);
    CHECK(v.failures == 1);
    CHECK(v.last_error == "disk full");
    REQUIRE(q.next_attempt(v) == 1);  // retried at once: no lease to wait for
    auto l1 = q.try_claim("u", 1);
    REQUIRE(l1);
    q.mark_failed(*l1, "disk full again");
    v = q.inspect("u", q.list().units.at("u"), q.fs_now());
    CHECK(v.failures == 2);
    CHECK(q.next_attempt(v) == -1);  // failed for good
    CHECK(v.last_error == "disk full again");
}

TEST_CASE("remove_stale_temporaries: only this node's temporaries of dead processes", "[study][queue]") {
    const std::string dir = fresh_dir("temporaries");
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(0);
    int st = 0;
    ::waitpid(pid, &st, 0);  // `pid` is now a dead process
    const std::string dead = std::to_string(pid), here = io::node_name();
    const std::string mine = dir + "/a.json.tmp-" + dead + "-" + here;
    const std::string legacy = dir + "/b.json.tmp-" + dead;
    const std::string other = dir + "/c.json.tmp-" + dead + "-some-other-node";
    const std::string alive = dir + "/d.json.tmp-1-" + here;  // pid 1 runs
    for (const auto& f : {mine, legacy, other, alive}) std::ofstream(f) << "x";
    CHECK(io::remove_stale_temporaries(dir) == 2);
    CHECK(!fs::exists(mine));
    CHECK(!fs::exists(legacy));
    CHECK(fs::exists(other));  // a pid of another machine says nothing about its process
    CHECK(fs::exists(alive));
    // write_file_atomic names its temporary with this node
    io::write_file_atomic(dir + "/e.json", "{}");
    CHECK(fs::exists(dir + "/e.json"));
}

TEST_CASE("remove_stale_temporaries: a killed process not yet reaped (a zombie) leaves no temporary behind",
          "[study][queue]") {
    // The work queue takes over the units of a worker that was killed but not yet reaped by its parent (the
    // three-workers test kills one and reaps it only at the end); that worker's temporaries must go at the same
    // moment, although kill(pid, 0) still finds the zombie.
    const std::string dir = fresh_dir("zombie_temporaries");
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(0);
    for (int i = 0; i < 500 && !io::process_is_zombie(pid); ++i) sleep_s(0.01);
    REQUIRE(io::process_is_zombie(pid));
    const std::string tmp = dir + "/unit.ckpt.tmp-" + std::to_string(pid) + "-" + io::node_name();
    std::ofstream(tmp) << "half a checkpoint";
    CHECK(io::remove_stale_temporaries(dir) == 1);
    CHECK(!fs::exists(tmp));
    int st = 0;
    ::waitpid(pid, &st, 0);
}

}  // namespace test_study_work_queue
