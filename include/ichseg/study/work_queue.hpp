/// @file work_queue.hpp (study)
/// @brief Claims on units of work through a shared folder, for any number of worker processes on one machine or
/// on many nodes that mount the same filesystem (NFSv3+, Lustre, GPFS, local disks). No daemon, no scheduler:
/// the files in `<out>/queue/` are the whole state.
///
/// Files, per unit (its key with '/' written as '.'):
///   <unit>.claim.<n>   attempt n, created with open(O_CREAT | O_EXCL): exactly one process wins each attempt
///                      number (exclusive create is atomic on local filesystems, on NFSv3 and later, and on
///                      Lustre; flock/fcntl locks are not reliable on every NFS setup, and a lock held by a dead
///                      node may never be released, so they are not used). The content names the owner (node,
///                      boot id, pid namespace, pid, token). Claim files are never deleted or renamed: a later
///                      attempt is a new file, so no rename race can remove someone else's claim.
///   <unit>.failed.<n>  attempt n ended with an error (the message); another attempt may follow (max_attempts).
///   <unit>.done        statistics of the attempt that finished (written atomically; the unit's own output files
///                      are what make it done).
///
/// The lease: the owner renews its claim by setting the claim file's mtime to "now" every `heartbeat_s`
/// (utimensat with UTIME_NOW: an NFS client sends SET_TO_SERVER_TIME, so the server's clock stamps it). Another
/// process judges a claim's age by the same clock: it stamps a probe file of its own the same way and subtracts
/// the two mtimes, so the nodes' local clocks never meet (both stat calls follow an open(), which revalidates
/// NFS's attribute cache). A claim is taken over (attempt n+1) when
///   * its owner ran on this machine (same node name, boot id and pid namespace) and that process is gone
///     (kill(pid, 0) fails): at once, e.g. after kill -9 or a crash of a local worker; or
///   * it is older than `lease_s` by the filesystem's clock AND this process has watched it stay unchanged for
///     at least 3 heartbeats of its own monotonic clock. The second condition keeps a live owner safe even where
///     the filesystem stamps mtimes with the clients' clocks (Lustre) and those clocks disagree by more than the
///     lease: a live owner renews within one heartbeat, which the watcher sees.
/// The owner's heartbeat also looks for attempt n+1: a worker that was judged dead (stopped, partitioned from the
/// filesystem for longer than the lease) finds it, marks its lease lost and stops the unit before writing any
/// output (train::FitOptions::keep_going; the study checks the lease again before writing its result files).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/atomic_file.hpp"
#include "ichseg/io/files.hpp"

namespace ichseg::study {

/// Who a worker process is: enough to tell whether a claim's owner is this process, a process on this machine
/// (whose liveness can be checked with kill(pid, 0)), or a process elsewhere.
struct WorkerIdentity {
    std::string node;     ///< host name, or the --node override (tests stand for several nodes on one machine)
    std::string boot_id;  ///< /proc/sys/kernel/random/boot_id: a reboot makes every old pid meaningless
    std::string pid_ns;   ///< /proc/self/ns/pid: containers on one host have their own pid numbers
    long pid = 0;
    std::string token;    ///< unique per process (node, pid, random): the claim's owner

    static WorkerIdentity current(const std::string& node_override = "") {
        WorkerIdentity w;
        w.node = node_override.empty() ? io::node_name() : node_override;
        std::ifstream b("/proc/sys/kernel/random/boot_id");
        std::getline(b, w.boot_id);
        char buf[256] = {0};
        const ssize_t n = ::readlink("/proc/self/ns/pid", buf, sizeof(buf) - 1);
        if (n > 0) w.pid_ns.assign(buf, static_cast<size_t>(n));
        w.pid = static_cast<long>(::getpid());
        std::random_device rd;
        char tok[32];
        std::snprintf(tok, sizeof(tok), "%08x%08x", rd(), rd());
        w.token = w.node + "-" + std::to_string(w.pid) + "-" + tok;
        return w;
    }
    nlohmann::json to_json() const {
        return {{"node", node}, {"boot_id", boot_id}, {"pid_ns", pid_ns}, {"pid", pid}, {"token", token}};
    }
    /// "node:pid" for messages.
    std::string str() const { return node + ":" + std::to_string(pid); }
    /// True when `owner` (a claim's content) ran on this machine in this pid namespace and its process is gone.
    bool owner_is_dead(const nlohmann::json& owner) const {
        if (!owner.is_object() || owner.value("node", "") != node || owner.value("boot_id", "") != boot_id ||
            owner.value("pid_ns", "") != pid_ns || boot_id.empty())
            return false;
        const long p = owner.value("pid", 0L);
        if (p <= 0) return false;
        if (owner.value("token", "") == token) return false;  // this process: alive by definition
        if (p == pid) return true;  // our pid, another token: an earlier process that had our number
        if (::kill(static_cast<pid_t>(p), 0) != 0) return errno == ESRCH;
        return io::process_is_zombie(p);  // killed, not yet reaped by its parent
    }
};

struct QueueOptions {
    std::string dir;           ///< <out>/queue
    double lease_s = 300;      ///< a claim not renewed for this long (filesystem clock) may be taken over
    double heartbeat_s = 30;   ///< renewal interval of a held claim
    int max_attempts = 2;      ///< attempts that may fail before a unit counts as failed
    std::string node;          ///< node name override (default: the host name)
};

/// What the queue folder says about one unit.
struct ClaimView {
    int attempts = 0;             ///< claim files (the highest attempt is attempts - 1)
    int failures = 0;             ///< failed.<n> files
    bool last_failed = false;     ///< the highest attempt ended with an error
    bool done_record = false;     ///< <unit>.done exists
    std::string last_error;       ///< message of the highest failed attempt
    nlohmann::json owner;         ///< content of the highest claim
    double age_s = 0;             ///< filesystem-clock age of the highest claim's last renewal
    bool owner_dead = false;      ///< the highest claim's owner ran on this machine and is gone
    bool takeover = false;        ///< the highest claim may be taken over now
};

/// The heartbeat of one held claim: renews it, watches for a successor; stop() ends it. Lost when the claim
/// file vanished or a later attempt exists.
class Lease {
public:
    Lease(std::string unit, int attempt, std::string claim_path, std::string successor_path, double heartbeat_s)
        : unit_(std::move(unit)), attempt_(attempt), path_(std::move(claim_path)), next_(std::move(successor_path)),
          heartbeat_s_(heartbeat_s) {
        thread_ = std::thread([this] { beat(); });
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { stop(); }

    const std::string& unit() const { return unit_; }
    int attempt() const { return attempt_; }
    /// True once another process took the unit over (or the claim file vanished).
    bool lost() const { return lost_.load(); }
    /// Check now (not only at the next heartbeat); true when still held.
    bool check() {
        if (!lost_.load() && (::access(next_.c_str(), F_OK) == 0 || ::access(path_.c_str(), F_OK) != 0))
            lost_.store(true);
        return !lost_.load();
    }
    void stop() {
        {
            std::lock_guard<std::mutex> l(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    void beat() {
        std::unique_lock<std::mutex> l(mu_);
        while (!stopping_) {
            cv_.wait_for(l, std::chrono::duration<double>(heartbeat_s_), [this] { return stopping_; });
            if (stopping_) break;
            l.unlock();
            if (::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0) != 0 && errno == ENOENT) lost_.store(true);
            check();
            l.lock();
        }
    }
    std::string unit_;
    int attempt_;
    std::string path_, next_;
    double heartbeat_s_;
    std::atomic<bool> lost_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

class WorkQueue {
public:
    explicit WorkQueue(QueueOptions o) : o_(std::move(o)), me_(WorkerIdentity::current(o_.node)) {
        ICHSEG_CHECK(o_.lease_s > 0 && o_.heartbeat_s > 0 && o_.heartbeat_s < o_.lease_s,
                     "work queue: the heartbeat (", o_.heartbeat_s, " s) must be shorter than the lease (", o_.lease_s,
                     " s)");
        ICHSEG_CHECK(o_.max_attempts >= 1, "work queue: max_attempts must be >= 1, got ", o_.max_attempts);
        io::make_dirs(o_.dir);
        io::make_dirs(o_.dir + "/clock");
    }
    ~WorkQueue() {
        std::error_code ec;
        std::filesystem::remove(clock_path(), ec);
    }

    const WorkerIdentity& identity() const { return me_; }
    const QueueOptions& options() const { return o_; }

    /// The file-name form of a unit key: '/' becomes '.'.
    static std::string file_name(const std::string& key) {
        std::string s = key;
        for (char& c : s)
            if (c == '/') c = '.';
        return s;
    }
    std::string path(const std::string& key, const std::string& suffix) const {
        return o_.dir + "/" + file_name(key) + suffix;
    }

    /// One listing of the queue folder: per unit file name, its attempts, failures and done record.
    struct Listing {
        std::map<std::string, ClaimView> units;
    };
    Listing list() const {
        Listing out;
        std::error_code ec;
        std::filesystem::directory_iterator it(o_.dir, ec), end;
        ICHSEG_CHECK(!ec, o_.dir, ": cannot list the queue folder: ", ec.message());
        for (; it != end; it.increment(ec)) {
            if (ec) fail(o_.dir, ": cannot list the queue folder: ", ec.message());
            const std::string n = it->path().filename().string();
            auto attempt_of = [&](const std::string& tag, std::string& unit) -> int {
                const auto p = n.rfind(tag);
                if (p == std::string::npos || p == 0) return -1;
                const std::string num = n.substr(p + tag.size());
                if (num.empty() || num.size() > 6 || num.find_first_not_of("0123456789") != std::string::npos) return -1;
                unit = n.substr(0, p);
                return std::stoi(num);
            };
            std::string unit;
            int a = attempt_of(".claim.", unit);
            if (a >= 0) {
                ClaimView& v = out.units[unit];
                v.attempts = std::max(v.attempts, a + 1);
                continue;
            }
            a = attempt_of(".failed.", unit);
            if (a >= 0) {
                out.units[unit].failures += 1;
                continue;
            }
            if (n.size() > 5 && n.compare(n.size() - 5, 5, ".done") == 0) out.units[n.substr(0, n.size() - 5)].done_record = true;
        }
        return out;
    }

    /// The full view of a unit that is not done: its highest claim's owner, age and whether it may be taken
    /// over now (see the file comment). `v` comes from list(), `fs_now_s` from fs_now() (one per scan).
    ClaimView inspect(const std::string& key, ClaimView v, double fs_now_s) {
        if (v.attempts == 0) return v;
        const int hi = v.attempts - 1;
        const std::string failed = path(key, ".failed." + std::to_string(hi));
        if (::access(failed.c_str(), F_OK) == 0) {
            v.last_failed = true;
            try {
                v.last_error = io::read_json_file(failed).value("error", "");
            } catch (const Error&) {
            }
            return v;
        }
        const std::string claim = path(key, ".claim." + std::to_string(hi));
        const int fd = ::open(claim.c_str(), O_RDONLY);  // open() revalidates NFS attributes (close-to-open)
        if (fd < 0) return v;
        struct stat st {};
        std::string text;
        if (::fstat(fd, &st) == 0) {
            char buf[4096];
            ssize_t r;
            while ((r = ::read(fd, buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(r));
        }
        ::close(fd);
        v.owner = nlohmann::json::parse(text, nullptr, false);
        if (v.owner.is_discarded()) v.owner = nlohmann::json();
        const double mtime = static_cast<double>(st.st_mtim.tv_sec) + 1e-9 * static_cast<double>(st.st_mtim.tv_nsec);
        v.age_s = fs_now_s - mtime;
        v.owner_dead = me_.owner_is_dead(v.owner);
        // watched unchanged: the same attempt with the same mtime since the first time this process saw it
        const auto now = std::chrono::steady_clock::now();
        Watch& w = watch_[key];
        if (w.attempt != hi || w.mtime != mtime) w = Watch{hi, mtime, now};
        const double watched = std::chrono::duration<double>(now - w.since).count();
        v.takeover = v.owner_dead || (v.age_s > o_.lease_s && watched >= 3 * o_.heartbeat_s);
        return v;
    }

    /// The attempt number a claim on this unit would take now, or -1 when it must not be claimed: done units are
    /// decided by the caller (their output files); here: a live claim, or max_attempts failures.
    int next_attempt(const ClaimView& v) const {
        if (v.attempts == 0) return 0;
        if (v.last_failed) return v.failures < o_.max_attempts ? v.attempts : -1;
        return v.takeover ? v.attempts : -1;
    }

    /// Try to create claim `attempt` of `key` (O_EXCL). The lease's heartbeat runs until it is stopped.
    std::unique_ptr<Lease> try_claim(const std::string& key, int attempt, const std::string& note = "") {
        const std::string p = path(key, ".claim." + std::to_string(attempt));
        const int fd = ::open(p.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0) {
            ICHSEG_CHECK(errno == EEXIST, p, ": cannot create the claim: ", std::strerror(errno));
            return nullptr;
        }
        nlohmann::json j = me_.to_json();
        j["unit"] = key;
        j["attempt"] = attempt;
        if (!note.empty()) j["note"] = note;
        const std::string text = j.dump() + "\n";
        io::write_all_or_fail(fd, text, p, p);
        ::fsync(fd);
        ::close(fd);
        return std::make_unique<Lease>(key, attempt, p, path(key, ".claim." + std::to_string(attempt + 1)),
                                       o_.heartbeat_s);
    }

    /// The unit finished: its statistics to <unit>.done, then the heartbeat stops.
    void mark_done(Lease& l, nlohmann::json record) {
        record["unit"] = l.unit();
        record["attempt"] = l.attempt();
        record["worker"] = me_.to_json();
        io::write_file_atomic(path(l.unit(), ".done"), record.dump(1) + "\n");
        l.stop();
    }
    /// The attempt ended with `error`: <unit>.failed.<attempt>, then the heartbeat stops.
    void mark_failed(Lease& l, const std::string& error) {
        nlohmann::json j = {{"unit", l.unit()}, {"attempt", l.attempt()}, {"error", error}, {"worker", me_.to_json()}};
        io::write_file_atomic(path(l.unit(), ".failed." + std::to_string(l.attempt())), j.dump(1) + "\n");
        l.stop();
    }

    /// "Now" by the filesystem's clock: the mtime of a probe file of this process after setting it to now.
    double fs_now() const {
        const std::string p = clock_path();
        const int fd = ::open(p.c_str(), O_CREAT | O_WRONLY, 0644);
        ICHSEG_CHECK(fd >= 0, p, ": cannot create the clock probe: ", std::strerror(errno));
        struct stat st {};
        const bool ok = ::futimens(fd, nullptr) == 0 && ::fstat(fd, &st) == 0;
        ::close(fd);
        ICHSEG_CHECK(ok, p, ": cannot stamp the clock probe: ", std::strerror(errno));
        return static_cast<double>(st.st_mtim.tv_sec) + 1e-9 * static_cast<double>(st.st_mtim.tv_nsec);
    }

private:
    std::string clock_path() const { return o_.dir + "/clock/" + me_.token; }
    struct Watch {
        int attempt = -1;
        double mtime = 0;
        std::chrono::steady_clock::time_point since;
    };
    QueueOptions o_;
    WorkerIdentity me_;
    std::map<std::string, Watch> watch_;
};

}  // namespace ichseg::study
