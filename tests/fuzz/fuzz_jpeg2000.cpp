// libFuzzer target: the JPEG 2000 decoder path (io/dicom/jpeg2000.hpp through DCMTK's chooseRepresentation and
// the HU conversion) on arbitrary codestreams. fuzz_dicom mutates whole files and rarely reaches a codestream
// intact; here the DICOM header is fixed and valid and the fuzzer owns the codestream and the few header fields
// the decoder checks it against. Input: 4 header bytes, then the codestream (split into fragments):
//   byte 0: bit 0 signed, bit 1 BitsAllocated 8 (else 16), bit 2 transfer syntax .91 (else .90),
//           bits 3-4 fragments - 1;   byte 1: Rows - 1 (1..64);   byte 2: Columns - 1 (1..64);
//   byte 3: BitsStored - 1 (clamped to BitsAllocated).
// Any ichseg::Error is an accepted outcome; a crash, sanitizer report, hang or runaway allocation is a bug.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "ichseg/io/dicom.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fuzz::TempDir tmp("/tmp/ichseg-fuzz-j2k-XXXXXX");
    if (size < 4) return 0;
    ichseg::io::set_log_level(ichseg::io::LogLevel::off);
    ichseg::io::DicomWriteSpec w;
    w.rows = (data[1] & 63) + 1;
    w.cols = (data[2] & 63) + 1;
    w.bits_allocated = (data[0] & 2) ? 8 : 16;
    w.bits_stored = std::min((data[3] & 15) + 1, w.bits_allocated);
    w.pixel_representation = data[0] & 1;
    w.rescale_intercept = -1024;
    w.transfer_syntax = (data[0] & 4) ? ichseg::io::DicomTransferSyntax::jpeg2000
                                      : ichseg::io::DicomTransferSyntax::jpeg2000_lossless;
    w.sop_uid = "1.2.3.4";
    const size_t nfrag = static_cast<size_t>((data[0] >> 3) & 3) + 1;
    const std::string cs(reinterpret_cast<const char*>(data) + 4, size - 4);
    size_t per = (cs.size() + nfrag - 1) / nfrag;
    per += per % 2;
    for (size_t pos = 0; pos < cs.size() && per > 0; pos += per) w.fragments_override.push_back(cs.substr(pos, per));
    if (w.fragments_override.empty()) w.fragments = 0;
    const std::string path = tmp.path + "/in.dcm";
    try {
        ichseg::io::write_dicom_slice(path, w, nullptr);
    } catch (const ichseg::Error&) {
        return 0;
    }
    ichseg::io::DicomReadOptions opt;
    try {
        const ichseg::io::DicomSlice s = ichseg::io::read_dicom_slice(path, opt);
        if (static_cast<int64_t>(s.hu.size()) != static_cast<int64_t>(w.rows) * w.cols) __builtin_trap();
    } catch (const ichseg::Error&) {
    }
    return 0;
}
