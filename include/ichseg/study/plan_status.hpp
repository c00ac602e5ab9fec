/// @file plan_status.hpp (study)
/// @brief The state of every unit of a plan, from the files alone: done (its outputs exist), running (a live
/// claim), ready (its dependencies are done and nobody holds it; also a unit whose claim has gone stale and may be
/// taken over), waiting (a dependency is not done), failed (its attempts are used up), blocked (a dependency
/// failed). The workers pick their next unit from this, and `ichseg_reproduce --plan` prints it with the cost
/// estimates: FLOPs for every unit, time where units already finished on the device (each unit's `.done` record
/// in the queue folder holds its FLOPs, seconds and device: the rate per device and stage).
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ichseg/io/text.hpp"
#include "ichseg/study/plan.hpp"
#include "ichseg/study/work_queue.hpp"

namespace ichseg::study {

enum class UnitState { done, running, ready, waiting, failed, blocked };

inline const char* unit_state_name(UnitState s) {
    switch (s) {
        case UnitState::done: return "done";
        case UnitState::running: return "running";
        case UnitState::ready: return "ready";
        case UnitState::waiting: return "waiting";
        case UnitState::failed: return "failed";
        case UnitState::blocked: return "blocked";
    }
    return "?";
}

inline bool file_exists_now(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

/// One unit's state and what the claim files say.
struct UnitStatus {
    UnitState state = UnitState::waiting;
    int next_attempt = -1;  ///< for a ready unit: the attempt a claim would take
    ClaimView claim;
    std::string waiting_on;  ///< the first dependency that is not done (waiting / blocked)
};

/// States of all units in plan order. `queue` may be null (no queue folder yet: nothing claimed).
/// `retry_failed`: a failed attempt never stops another (a single interactive run retries what failed before).
inline std::vector<UnitStatus> plan_status(const Plan& plan, WorkQueue* queue, bool retry_failed = false) {
    std::vector<UnitStatus> st(plan.units.size());
    std::map<std::string, size_t> pos;
    WorkQueue::Listing listing;
    double now = 0;
    if (queue) {
        listing = queue->list();
        now = queue->fs_now();
    }
    for (size_t i = 0; i < plan.units.size(); ++i) {
        const Unit& u = plan.units[i];
        pos[u.key] = i;
        UnitStatus& s = st[i];
        bool done = !u.outputs.empty();
        for (const std::string& o : u.outputs) done = done && file_exists_now(o);
        if (done) {
            s.state = UnitState::done;
            continue;
        }
        bool deps_done = true, dep_failed = false;
        for (const std::string& d : u.deps) {
            const UnitState ds = st[pos.at(d)].state;
            if (ds != UnitState::done) {
                if (s.waiting_on.empty()) s.waiting_on = d;
                deps_done = false;
                dep_failed = dep_failed || ds == UnitState::failed || ds == UnitState::blocked;
            }
        }
        if (queue) {
            auto it = listing.units.find(WorkQueue::file_name(u.key));
            if (it != listing.units.end()) s.claim = queue->inspect(u.key, it->second, now);
        }
        if (dep_failed) {
            s.state = UnitState::blocked;
            continue;
        }
        if (!deps_done) {
            s.state = UnitState::waiting;
            continue;
        }
        int a = queue ? queue->next_attempt(s.claim) : 0;
        if (retry_failed && s.claim.last_failed) a = s.claim.attempts;
        if (a >= 0) {
            s.state = UnitState::ready;
            s.next_attempt = a;
        } else {
            s.state = s.claim.last_failed ? UnitState::failed : UnitState::running;
        }
    }
    return st;
}

/// Measured speed: FLOP/s per (device, stage) from the `.done` records of a queue folder.
struct MeasuredRates {
    struct Acc {
        double flops = 0, seconds = 0;
        int units = 0;
    };
    std::map<std::pair<std::string, std::string>, Acc> by_stage;  ///< (device, stage)
    std::map<std::string, Acc> by_device;

    static MeasuredRates read(const std::string& queue_dir) {
        MeasuredRates r;
        std::error_code ec;
        if (!std::filesystem::is_directory(queue_dir, ec)) return r;
        for (const auto& e : std::filesystem::directory_iterator(queue_dir, ec)) {
            const std::string n = e.path().filename().string();
            if (n.size() < 6 || n.compare(n.size() - 5, 5, ".done") != 0) continue;
            nlohmann::json j;
            try {
                j = io::read_json_file(e.path().string());
            } catch (const Error&) {
                continue;
            }
            const double f = j.value("flops", 0.0), s = j.value("seconds", 0.0);
            if (f <= 0 || s <= 0) continue;
            const std::string dev = j.value("device_name", j.value("device", std::string("?")));
            for (Acc* a : {&r.by_stage[{dev, j.value("stage", std::string())}], &r.by_device[dev]}) {
                a->flops += f;
                a->seconds += s;
                a->units += 1;
            }
        }
        return r;
    }
    /// Seconds for `flops` of stage `stage` on `device` (by that stage's rate, else the device's), or nullopt.
    std::optional<double> seconds(const std::string& device, const std::string& stage, double flops) const {
        auto it = by_stage.find({device, stage});
        if (it != by_stage.end() && it->second.flops > 0) return flops * it->second.seconds / it->second.flops;
        auto jt = by_device.find(device);
        if (jt != by_device.end() && jt->second.flops > 0) return flops * jt->second.seconds / jt->second.flops;
        return std::nullopt;
    }
};

/// "1.23e+15" -> "1.2 PFLOP" style.
inline std::string format_flops(double f) {
    const char* u[] = {"FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP"};
    int i = 0;
    while (f >= 1000 && i < 6) {
        f /= 1000;
        ++i;
    }
    return io::format(f >= 100 ? "%.0f %s" : f >= 10 ? "%.1f %s" : "%.2f %s", f, u[i]);
}
inline std::string format_duration(double s) {
    if (s < 90) return io::format("%.0f s", s);
    if (s < 5400) return io::format("%.1f min", s / 60);
    if (s < 172800) return io::format("%.1f h", s / 3600);
    return io::format("%.1f d", s / 86400);
}

/// The plan as text: a summary per stage (units per state, estimated FLOPs, remaining FLOPs and time) and one
/// line per unit (state, key, FLOPs, estimated time, dependencies or owner). `device` names the device whose
/// measured rate gives the times ("" = none).
inline std::string plan_text(const Plan& plan, const std::vector<UnitStatus>& st, const MeasuredRates& rates,
                             std::string device, const std::string& sizes_source, bool per_unit = true) {
    std::ostringstream os;
    std::string other;  // the device whose rates are used when none was measured on `device`
    if (!rates.by_device.count(device) && !rates.by_device.empty()) {
        auto best = rates.by_device.begin();
        for (auto it = rates.by_device.begin(); it != rates.by_device.end(); ++it)
            if (it->second.units > best->second.units) best = it;
        other = device;
        device = best->first;
    }
    std::map<UnitState, int> total;
    for (const UnitStatus& s : st) total[s.state] += 1;
    double all_flops = 0;
    for (const Unit& u : plan.units) all_flops += u.flops;
    os << "plan: " << plan.units.size() << " units (";
    bool first = true;
    for (UnitState s : {UnitState::done, UnitState::running, UnitState::ready, UnitState::waiting, UnitState::failed,
                        UnitState::blocked})
        if (total[s]) {
            os << (first ? "" : ", ") << total[s] << " " << unit_state_name(s);
            first = false;
        }
    os << "), " << format_flops(all_flops) << " estimated in all\n";
    os << "sizes: " << sizes_source << "\n";
    const bool have_rates = !device.empty() && rates.by_device.count(device);
    if (have_rates) {
        const auto& a = rates.by_device.at(device);
        os << "times: at the rate measured on " << device << " (" << a.units << " finished units, "
           << format_flops(a.flops / a.seconds) << "/s on average; per stage where measured)"
           << (other.empty() ? std::string() : "; nothing has finished on " + other + " yet") << "\n";
    } else {
        os << "times: no unit has finished on " << (device.empty() ? std::string("this device") : device)
           << " in this output folder yet, so only FLOPs are estimated\n";
    }
    os << "\n| stage | units | done | running | ready | waiting | failed / blocked | FLOPs (estimated) | FLOPs left | time left |\n";
    os << "|---|---|---|---|---|---|---|---|---|---|\n";
    std::vector<std::string> stages;
    for (const Unit& u : plan.units)
        if (std::find(stages.begin(), stages.end(), u.stage) == stages.end()) stages.push_back(u.stage);
    double left_all = 0, time_all = 0;
    bool time_known = have_rates;
    for (const std::string& sg : stages) {
        std::map<UnitState, int> n;
        int units = 0;
        double fl = 0, left = 0, t = 0;
        bool tk = have_rates;
        for (size_t i = 0; i < plan.units.size(); ++i) {
            const Unit& u = plan.units[i];
            if (u.stage != sg) continue;
            ++units;
            n[st[i].state] += 1;
            fl += u.flops;
            if (st[i].state == UnitState::done) continue;
            left += u.flops;
            const auto s = rates.seconds(device, u.stage, u.flops);
            if (s) t += *s;
            else if (u.flops > 0) tk = false;
        }
        left_all += left;
        time_all += t;
        time_known = time_known && tk;
        os << "| " << sg << " | " << units << " | " << n[UnitState::done] << " | " << n[UnitState::running] << " | "
           << n[UnitState::ready] << " | " << n[UnitState::waiting] << " | "
           << n[UnitState::failed] + n[UnitState::blocked] << " | " << format_flops(fl) << " | " << format_flops(left)
           << " | " << (tk ? format_duration(t) : std::string("–")) << " |\n";
    }
    os << "| **all** | " << plan.units.size() << " | " << total[UnitState::done] << " | " << total[UnitState::running]
       << " | " << total[UnitState::ready] << " | " << total[UnitState::waiting] << " | "
       << total[UnitState::failed] + total[UnitState::blocked] << " | " << format_flops(all_flops) << " | "
       << format_flops(left_all) << " | " << (time_known ? format_duration(time_all) : std::string("–")) << " |\n";
    if (!per_unit) return os.str();
    os << "\nunits (in plan order; a worker takes the first ready one):\n";
    for (size_t i = 0; i < plan.units.size(); ++i) {
        const Unit& u = plan.units[i];
        const UnitStatus& s = st[i];
        std::string detail;
        if (s.state == UnitState::running && s.claim.owner.is_object())
            detail = "held by " + s.claim.owner.value("node", std::string("?")) + ":" +
                     std::to_string(s.claim.owner.value("pid", 0L)) + ", attempt " + std::to_string(s.claim.attempts) +
                     ", renewed " + io::format("%.0f", s.claim.age_s) + " s ago";
        else if (s.state == UnitState::failed || (s.state == UnitState::ready && s.claim.last_failed))
            detail = std::to_string(s.claim.failures) + " failed attempt(s): " + s.claim.last_error;
        else if (s.state == UnitState::ready && s.claim.attempts > 0)
            detail = "stale claim of " + s.claim.owner.value("node", std::string("?")) + ":" +
                     std::to_string(s.claim.owner.value("pid", 0L)) + " (" +
                     (s.claim.owner_dead ? std::string("process gone") : io::format("%.0f s old", s.claim.age_s)) +
                     "): taken over next, resuming from its checkpoint";
        else if (s.state == UnitState::waiting || s.state == UnitState::blocked)
            detail = "on " + s.waiting_on + (u.deps.size() > 1 ? " (+" + std::to_string(u.deps.size() - 1) + " more)" : "");
        const auto t = rates.seconds(device, u.stage, u.flops);
        os << io::format("  %-8s %-44s %11s %9s  %s\n", unit_state_name(s.state), u.key.c_str(),
                         format_flops(u.flops).c_str(), s.state != UnitState::done && t ? format_duration(*t).c_str() : "",
                         detail.c_str());
    }
    return os.str();
}

}  // namespace ichseg::study
