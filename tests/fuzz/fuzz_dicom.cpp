// libFuzzer target: the DICOM image reader (DCMTK parse, header checks, codec decoding, HU conversion incl. the
// RSNA quirk) on arbitrary bytes written to a temporary file: the path every dataset layout uses. Any
// ichseg::Error is an accepted outcome; a crash, sanitizer report, hang or runaway allocation is a bug.
// (The in-memory entry point shares everything after parsing; it is not fuzzed here because DCMTK's buffer
// stream cannot bound element lengths by the remaining input and reserves -- without touching -- whatever a
// corrupt length field claims, which is slow under AddressSanitizer.)
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "ichseg/io/dicom.hpp"

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
    static const TempDir tmp("/tmp/ichseg-fuzz-dicom-XXXXXX");
    const std::string path = tmp.path + "/in.dcm";
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
    ichseg::io::DicomReadOptions opt;
    opt.max_pixels = 2048 * 2048;
    try {
        const ichseg::io::DicomSlice s = ichseg::io::read_dicom_slice(path, opt);
        if (static_cast<int64_t>(s.hu.size()) != static_cast<int64_t>(s.header.rows) * s.header.cols) __builtin_trap();
    } catch (const ichseg::Error&) {
    }
    try {
        ichseg::io::read_dicom_header(path);
    } catch (const ichseg::Error&) {
    }
    return 0;
}
