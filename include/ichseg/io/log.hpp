/// @file log.hpp
/// @brief A replaceable log sink for the data layer (io/ and data/): dataset scans report skipped files and
/// inconsistencies here, besides recording them in the dataset object. Default: one line on stderr per message
/// at `warn` and above. Thread-safe; no dependency beyond the standard library.
#pragma once

#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "ichseg/core/error.hpp"

namespace ichseg::io {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

inline const char* to_string(LogLevel l) {
    switch (l) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
        default: return "off";
    }
}

using LogSink = std::function<void(LogLevel, const std::string&)>;

namespace detail {
struct LogState {
    std::mutex mu;
    LogLevel min_level = LogLevel::warn;
    LogSink sink;  // empty: stderr
};
inline LogState& log_state() {
    static LogState* s = new LogState;  // never destroyed: loader threads may log during exit
    return *s;
}
}  // namespace detail

/// Messages below `level` are dropped (default warn).
inline void set_log_level(LogLevel level) {
    auto& s = detail::log_state();
    std::lock_guard<std::mutex> lock(s.mu);
    s.min_level = level;
}
inline LogLevel log_level() {
    auto& s = detail::log_state();
    std::lock_guard<std::mutex> lock(s.mu);
    return s.min_level;
}
/// Replace the sink (an empty function restores stderr). Returns the previous sink.
inline LogSink set_log_sink(LogSink sink) {
    auto& s = detail::log_state();
    std::lock_guard<std::mutex> lock(s.mu);
    std::swap(s.sink, sink);
    return sink;
}

/// Emit one message (already formatted) at `level`.
inline void log_message(LogLevel level, const std::string& msg) {
    auto& s = detail::log_state();
    std::lock_guard<std::mutex> lock(s.mu);
    if (level < s.min_level || level == LogLevel::off) return;
    if (s.sink) {
        s.sink(level, msg);
    } else {
        std::fprintf(stderr, "ichseg [%s] %s\n", to_string(level), msg.c_str());
    }
}
template <class... A>
void log(LogLevel level, const A&... parts) {
    log_message(level, ::ichseg::detail::cat(parts...));
}

}  // namespace ichseg::io

namespace ichseg::io {

/// A file or case that a dataset scan left out, and why (also logged at `warn`).
struct Skipped {
    std::string path;
    std::string reason;
};

inline void record_skip(std::vector<Skipped>& list, const std::string& path, const std::string& reason) {
    log(LogLevel::warn, "skipped ", path, ": ", reason);
    list.push_back({path, reason});
}

}  // namespace ichseg::io
