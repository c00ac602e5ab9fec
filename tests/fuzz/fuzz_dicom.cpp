// libFuzzer target: the DICOM image reader (DCMTK parse, header checks, codec decoding, HU conversion incl. the
// RSNA quirk) on arbitrary bytes written to a temporary file: the path every dataset layout uses. Any
// ichseg::Error is an accepted outcome; a crash, sanitizer report, hang or runaway allocation is a bug.
// (The in-memory entry point shares everything after parsing; it is not fuzzed here because DCMTK's buffer
// stream cannot bound element lengths by the remaining input and reserves -- without touching -- whatever a
// corrupt length field claims, which is slow under AddressSanitizer.)
#include <cstdint>
#include <cstdio>
#include <string>

#include "ichseg/io/dicom.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fuzz::TempDir tmp("/tmp/ichseg-fuzz-dicom-XXXXXX");
    const std::string path = tmp.path + "/in.dcm";
    if (!fuzz::write_input(path, data, size)) return 0;
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
