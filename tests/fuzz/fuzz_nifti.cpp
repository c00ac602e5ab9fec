// libFuzzer target: the NIfTI reader (header validation, nifticlib load, data verification, conversion) on
// arbitrary bytes written to a temporary .nii / .nii.gz file. Any ichseg::Error is an accepted outcome; a crash,
// sanitizer report, hang or unbounded allocation is a bug.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "ichseg/io/nifti.hpp"

namespace {
/// A private folder for the input file, removed (with the file) when the fuzzer exits.
struct TempDir {
    std::string path;
    explicit TempDir(const char* pattern) {
        std::string t = pattern;
        const char* d = mkdtemp(&t[0]);
        path = d ? d : "/tmp";
    }
    ~TempDir() {
        if (path != "/tmp") {
            std::remove((path + "/in.nii").c_str());
            std::remove((path + "/in.nii.gz").c_str());
            std::remove((path + "/in.dcm").c_str());
            ::rmdir(path.c_str());
        }
    }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const TempDir tmp("/tmp/ichseg-fuzz-nifti-XXXXXX");
    const std::string& dir = tmp.path;
    const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    const std::string path = dir + (gz ? "/in.nii.gz" : "/in.nii");
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
    ichseg::io::NiftiReadOptions opt;
    opt.max_bytes = 16 << 20;
    try {
        ichseg::io::Volume v = ichseg::io::read_nifti(path, opt);
        if (v.voxels.numel() != v.nx() * v.ny() * v.nz()) __builtin_trap();
    } catch (const ichseg::Error&) {
    }
    try {
        ichseg::io::read_nifti_mask(path, opt);
    } catch (const ichseg::Error&) {
    }
    std::remove(path.c_str());
    return 0;
}
