/// @file atomic_file.hpp
/// @brief Replace a file atomically: write a temporary file "<path>.tmp-<pid>-<node>" beside it, flush it to disk,
/// rename it over the target (atomic on local filesystems, NFS and Lustre). A crash or kill at any moment leaves
/// either the previous file or the complete new one; `remove_stale_temporaries` removes the temporaries that
/// killed processes of this machine left behind. The node (host) name is part of the temporary's name because
/// several machines may write into one shared folder: a pid means nothing on another machine, so the temporaries
/// of other nodes are never removed here (their own node removes them).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <climits>

#include <cerrno>
#include <cstdio>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "ichseg/core/error.hpp"

namespace ichseg::io {

/// Write all of `bytes` to the open file `fd`, retrying interrupted writes. On failure the file is closed, the
/// temporary `tmp` removed, and the error names `path` (the file being produced).
inline void write_all_or_fail(int fd, const std::string& bytes, const std::string& path, const std::string& tmp) {
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            fail(path, ": write failed: ", std::strerror(e));
        }
        done += static_cast<size_t>(w);
    }
}

/// This machine's host name with every character outside [A-Za-z0-9_.-] written as '_' ("localhost" when it
/// cannot be read): the node part of temporary names and of work-queue claims (study/work_queue.hpp).
inline std::string node_name() {
    char buf[HOST_NAME_MAX + 1] = {0};
    std::string s = ::gethostname(buf, sizeof(buf) - 1) == 0 && buf[0] ? std::string(buf) : std::string("localhost");
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') c = '_';
    return s;
}

inline void write_file_atomic(const std::string& path, const std::string& bytes) {
    static const std::string suffix = "-" + node_name();
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + suffix;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail(path, ": cannot create temporary file ", tmp, ": ", std::strerror(errno));
    write_all_or_fail(fd, bytes, path, tmp);
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        fail(path, ": cannot flush to disk: ", std::strerror(e));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        fail(path, ": cannot move the finished file into place: ", std::strerror(e));
    }
}

/// True when /proc says process `p` has exited and waits for its parent (state Z or X): killed, not yet reaped.
/// kill(p, 0) still succeeds for such a process, but it will never run again.
inline bool process_is_zombie(long p) {
    std::ifstream f("/proc/" + std::to_string(p) + "/stat");
    std::string text;
    std::getline(f, text);
    const auto close = text.rfind(')');  // the command name may contain spaces and parentheses
    if (close == std::string::npos || close + 2 >= text.size()) return false;
    return text[close + 2] == 'Z' || text[close + 2] == 'X';
}

/// Remove, under `root` (recursively), the "<name>.tmp-<pid>-<node>" files of processes of this node that no
/// longer run (left by a kill during `write_file_atomic`; "<name>.tmp-<pid>" of older versions count as this
/// node's). A killed process its parent has not reaped yet (a zombie) no longer runs: its temporaries go too, as
/// the work queue takes over its units (study/work_queue.hpp). Returns how many were removed.
inline int remove_stale_temporaries(const std::string& root) {
    namespace fs = std::filesystem;
    int n = 0;
    std::error_code ec;
    if (!fs::exists(root, ec)) return 0;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const std::string name = it->path().filename().string();
        const auto pos = name.rfind(".tmp-");
        if (pos == std::string::npos) continue;
        std::string pid_text = name.substr(pos + 5);
        const auto dash = pid_text.find('-');
        if (dash != std::string::npos) {
            static const std::string here = node_name();
            if (pid_text.substr(dash + 1) != here) continue;  // another machine's temporary
            pid_text.resize(dash);
        }
        if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
        const long pid = std::stol(pid_text);
        if (pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) == 0 && !process_is_zombie(pid))
            continue;  // still running
        std::error_code rm;
        if (fs::remove(it->path(), rm)) ++n;
    }
    return n;
}

}  // namespace ichseg::io
