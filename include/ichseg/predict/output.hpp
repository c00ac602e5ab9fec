/// @file output.hpp (predict; needs ichseg::io)
/// @brief Writing prediction outputs safely: every file is written complete under a temporary name in the
/// destination folder and then published in one step; without `overwrite` the publication is `link(2)`, which
/// fails when the name exists (so an existing file is never replaced, even one created by another process in
/// the meantime); with `overwrite` it is `rename(2)` (atomic replacement). An output that is the same file as an
/// input is refused in both modes.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/atomic_file.hpp"
#include "ichseg/io/nifti.hpp"

namespace ichseg::predict {

/// Files that outputs must never replace (inputs), compared as files (hard links and symlinks included).
class ProtectedFiles {
public:
    void add(const std::string& p) {
        if (!p.empty()) files_.push_back(p);
    }
    void add_all(const std::vector<std::string>& v) {
        for (const auto& p : v) add(p);
    }
    /// Error when `out` is one of the protected files.
    void check(const std::string& out) const {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (!fs::exists(out, ec)) return;
        for (const auto& p : files_) {
            std::error_code e2;
            if (fs::equivalent(out, p, e2))
                fail(out, ": refusing to write an output over the input file ", p, " (choose another output folder)");
        }
    }

private:
    std::vector<std::string> files_;
};

namespace detail {

inline std::string temp_name_for(const std::string& final_path, const std::string& ext) {
    static std::atomic<uint64_t> counter{0};
    namespace fs = std::filesystem;
    const fs::path p(final_path);
    const std::string dir = p.has_parent_path() ? p.parent_path().string() + "/" : std::string();
    return dir + ".ichseg-out-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ext;
}

inline bool fsync_path(const std::string& p) {
    const int fd = ::open(p.c_str(), O_RDONLY);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

}  // namespace detail

/// Move a finished temporary file to `final_path` (see the file comment). The temporary is removed in all cases.
inline void publish_file(const std::string& tmp, const std::string& final_path, bool overwrite,
                         const ProtectedFiles* inputs = nullptr) {
    auto cleanup = [&] { ::unlink(tmp.c_str()); };
    try {
        if (inputs) inputs->check(final_path);
    } catch (...) {
        cleanup();
        throw;
    }
    detail::fsync_path(tmp);
    if (overwrite) {
        if (std::rename(tmp.c_str(), final_path.c_str()) != 0) {
            const int e = errno;
            cleanup();
            fail(final_path, ": cannot move the finished file into place: ", std::strerror(e));
        }
        return;
    }
    if (::link(tmp.c_str(), final_path.c_str()) == 0) {
        cleanup();
        return;
    }
    const int e = errno;
    if (e == EEXIST) {
        cleanup();
        fail(final_path, ": the output already exists; not overwritten (pass --overwrite to replace it)");
    }
    if (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS) {
        // File systems without hard links: check, then rename (a race with another writer remains possible).
        std::error_code ec;
        if (std::filesystem::exists(final_path, ec)) {
            cleanup();
            fail(final_path, ": the output already exists; not overwritten (pass --overwrite to replace it)");
        }
        if (std::rename(tmp.c_str(), final_path.c_str()) == 0) return;
    }
    cleanup();
    fail(final_path, ": cannot create the output: ", std::strerror(e));
}

/// Error listing the outputs that exist already (checked before any work, so a run fails fast).
inline void check_outputs_free(const std::vector<std::string>& outputs, bool overwrite, const ProtectedFiles& inputs) {
    std::vector<std::string> existing;
    for (const auto& o : outputs) {
        inputs.check(o);
        std::error_code ec;
        if (!overwrite && std::filesystem::exists(o, ec)) existing.push_back(o);
    }
    if (!existing.empty()) {
        std::string s;
        for (size_t i = 0; i < existing.size() && i < 5; ++i) s += (i ? ", " : "") + existing[i];
        if (existing.size() > 5) s += ", ... (" + std::to_string(existing.size()) + " in all)";
        fail(existing.size(), " output file(s) exist already: ", s,
             "; nothing was written. Pass --overwrite to replace them or choose another output folder");
    }
}

/// Text file (JSON, CSV), published as above.
inline void write_text_output(const std::string& path, const std::string& text, bool overwrite,
                              const ProtectedFiles* inputs = nullptr) {
    const std::string tmp = detail::temp_name_for(path, ".tmp");
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) fail(path, ": cannot create a temporary file in the output folder: ", std::strerror(errno));
    io::write_all_or_fail(fd, text, path, tmp);
    if (::close(fd) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        fail(path, ": write failed: ", std::strerror(e));
    }
    publish_file(tmp, path, overwrite, inputs);
}

/// NIfTI image (mask: uint8 + intent LABEL; volume: as `opt` says), published as above.
template <class T>
void write_nifti_output(const std::string& path, const io::Image3D<T>& img, const io::NiftiWriteOptions& opt,
                        bool overwrite, const ProtectedFiles* inputs = nullptr) {
    const std::string ext = io::detail::ends_with(path, ".nii.gz") ? ".nii.gz" : ".nii";
    const std::string tmp = detail::temp_name_for(path, ext);
    try {
        io::detail::write_nifti_impl(tmp, img, opt);
    } catch (const Error& e) {
        ::unlink(tmp.c_str());
        fail(path, ": ", e.what());
    }
    publish_file(tmp, path, overwrite, inputs);
}

inline void write_mask_output(const std::string& path, const io::Mask& m, bool overwrite,
                              const ProtectedFiles* inputs = nullptr, const std::string& description = "") {
    io::NiftiWriteOptions o;
    o.dtype = io::NiftiDtype::uint8;
    o.intent_code = NIFTI_INTENT_LABEL;
    o.description = description;
    write_nifti_output(path, m, o, overwrite, inputs);
}

}  // namespace ichseg::predict
