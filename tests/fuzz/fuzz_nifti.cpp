// libFuzzer target: the NIfTI reader (header validation, nifticlib load, data verification, conversion) on
// arbitrary bytes written to a temporary .nii / .nii.gz file. Any ichseg::Error is an accepted outcome; a crash,
// sanitizer report, hang or unbounded allocation is a bug.
#include <cstdint>
#include <cstdio>
#include <string>

#include "ichseg/io/nifti.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fuzz::TempDir tmp("/tmp/ichseg-fuzz-nifti-XXXXXX");
    const std::string& dir = tmp.path;
    const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    const std::string path = dir + (gz ? "/in.nii.gz" : "/in.nii");
    if (!fuzz::write_input(path, data, size)) return 0;
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
