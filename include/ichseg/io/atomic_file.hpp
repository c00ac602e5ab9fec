/// @file atomic_file.hpp
/// @brief Replace a file atomically: write a temporary file beside it, flush it to disk, rename it over the
/// target. A crash or kill at any moment leaves either the previous file or the complete new one.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "ichseg/core/error.hpp"

namespace ichseg::io {

inline void write_file_atomic(const std::string& path, const std::string& bytes) {
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail(path, ": cannot create temporary file ", tmp, ": ", std::strerror(errno));
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

}  // namespace ichseg::io
