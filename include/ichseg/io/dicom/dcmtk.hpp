/// @file dicom/dcmtk.hpp
/// @brief The DCMTK layer of the DICOM reader (target ichseg::io): one-time setup (log level, codec registration,
/// data dictionary check), loading a file or a memory buffer into a `DcmFileFormat` with errors naming the file,
/// and typed attribute getters that refuse malformed values (a DS "abc", a non-integer IS) instead of reading 0.
/// Everything above this file (slice.hpp, series.hpp, writer.hpp) talks to DCMTK through these helpers or through
/// the dataset they return. The codecs registered: DCMTK's JPEG (baseline, extended, lossless), JPEG-LS and RLE
/// decoders and encoders, and ichseg's JPEG 2000 decoder (jpeg2000.hpp, OpenJPEG).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/dicom/jpeg2000.hpp"

namespace ichseg::io::detail {

inline void dicom_init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        // DCMTK logs decoder chatter at INFO on stderr; our errors carry the information. ICHSEG_DCMTK_LOG=1 keeps
        // DCMTK's own configuration.
        const char* keep = std::getenv("ICHSEG_DCMTK_LOG");
        if (!(keep && keep[0] == '1')) OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        DJEncoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
        DcmRLEEncoderRegistration::registerCodecs();
        j2k::register_decoder();  // JPEG 2000 through OpenJPEG (Debian's DCMTK has no JPEG 2000 codec)
    });
    if (!dcmDataDict.isDictionaryLoaded())
        fail("DCMTK: no DICOM data dictionary is loaded (install the dcmtk package or set DCMDICTPATH)");
}

/// Why the pixel data of transfer syntax `uid` (as the meta header says) cannot be read, or "" when a decoder is
/// registered for it. docs/data.md §2.2 has the whole table.
inline std::string unsupported_transfer_syntax(const std::string& uid) {
    if (uid.empty()) return {};  // no meta header: DCMTK detected the encoding of the dataset itself
    auto has_prefix = [&](const char* p) { return uid.compare(0, std::strlen(p), p) == 0; };
    const DcmXfer x(uid.c_str());
    switch (x.getXfer()) {
        case EXS_JPEG2000MulticomponentLosslessOnly:
        case EXS_JPEG2000Multicomponent:
            return "JPEG 2000 Part 2 multi-component pixel data is not supported (Part 1 JPEG 2000, .90 and .91, "
                   "is); decompress the file first, e.g. with GDCM: gdcmconv --raw in.dcm out.dcm";
        case EXS_JPIPReferenced:
        case EXS_JPIPReferencedDeflate:
            return "JPIP referenced pixel data: the pixels are on a JPIP server, not in the file";
        case EXS_MPEG2MainProfileAtMainLevel:
        case EXS_MPEG2MainProfileAtHighLevel:
        case EXS_MPEG4HighProfileLevel4_1:
        case EXS_MPEG4BDcompatibleHighProfileLevel4_1:
        case EXS_MPEG4HighProfileLevel4_2_For2DVideo:
        case EXS_MPEG4HighProfileLevel4_2_For3DVideo:
        case EXS_MPEG4StereoHighProfileLevel4_2:
        case EXS_HEVCMainProfileLevel5_1:
        case EXS_HEVCMain10ProfileLevel5_1:
            return "video (MPEG / HEVC) pixel data is not read (not a CT image)";
        case EXS_Unknown: break;
        default: return {};
    }
    std::string what = "a transfer syntax this DCMTK (3.6.7) does not know";
    if (uid == "1.2.840.10008.1.2.4.201" || uid == "1.2.840.10008.1.2.4.202" || uid == "1.2.840.10008.1.2.4.203")
        what = "High-Throughput JPEG 2000 (HTJ2K), which DCMTK 3.6.7 does not know";
    else if (has_prefix("1.2.840.10008.1.2.4.11"))
        what = "JPEG XL, which DCMTK 3.6.7 does not know";
    else if (uid == "1.2.840.10008.1.2.1.98")
        what = "Encapsulated Uncompressed Explicit VR Little Endian, which DCMTK 3.6.7 does not know";
    else if (has_prefix("1.2.840.10008.1.2.4.10"))
        what = "video (MPEG / HEVC), not a CT image";
    return "transfer syntax " + uid + " is " + what + "; convert the file first, e.g. with GDCM: gdcmconv --raw "
           "in.dcm out.dcm";
}

inline std::string get_string(DcmItem* ds, const DcmTagKey& tag) {
    OFString s;
    if (ds->findAndGetOFStringArray(tag, s).good()) {
        std::string r(s.c_str());
        while (!r.empty() && (r.back() == ' ' || r.back() == '\0')) r.pop_back();
        size_t b = 0;
        while (b < r.size() && r[b] == ' ') ++b;
        return r.substr(b);
    }
    return {};
}

/// All numeric values of a (DS/IS/US/...) tag; false when absent; Error when present but malformed.
inline bool get_numbers(DcmItem* ds, const DcmTagKey& tag, std::vector<double>& out, const std::string& path,
                        const char* name) {
    out.clear();
    DcmElement* el = nullptr;
    if (ds->findAndGetElement(tag, el).bad() || !el) return false;
    const unsigned long vm = el->getVM();
    if (el->getLength() == 0 || vm == 0) return false;
    for (unsigned long i = 0; i < vm; ++i) {
        Float64 v = 0;
        OFCondition c = el->getFloat64(v, i);
        if (c.bad()) {
            // integer VRs
            Uint16 u16;
            Sint16 s16;
            Uint32 u32;
            Sint32 s32;
            if (el->getUint16(u16, i).good()) v = u16;
            else if (el->getSint16(s16, i).good()) v = s16;
            else if (el->getUint32(u32, i).good()) v = u32;
            else if (el->getSint32(s32, i).good()) v = s32;
            else {
                OFString s;
                el->getOFString(s, i);
                char* end = nullptr;
                v = std::strtod(s.c_str(), &end);
                if (s.empty() || end == s.c_str())
                    fail(path, ": malformed ", name, " value '", s.c_str(), "'");
            }
        }
        if (!std::isfinite(v)) fail(path, ": non-finite ", name, " value");
        out.push_back(v);
    }
    return true;
}

inline bool get_int(DcmItem* ds, const DcmTagKey& tag, int64_t& out, const std::string& path, const char* name) {
    std::vector<double> v;
    if (!get_numbers(ds, tag, v, path, name)) return false;
    if (v[0] != std::floor(v[0]) || std::fabs(v[0]) > 1e12) fail(path, ": ", name, " is not an integer: ", v[0]);
    out = static_cast<int64_t>(v[0]);
    return true;
}

/// Load a file (header only: large values such as PixelData are not read).
inline std::unique_ptr<DcmFileFormat> dicom_load_file(const std::string& path, bool header_only) {
    dicom_init_once();
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(path, ": is a directory, not a DICOM file");
    if (!std::filesystem::exists(path, ec)) fail(path, ": no such file");
    auto ff = std::make_unique<DcmFileFormat>();
    const OFCondition c =
        ff->loadFile(path.c_str(), EXS_Unknown, EGL_noChange, header_only ? 1024 : DCM_MaxReadLength, ERM_autoDetect);
    if (c.bad()) fail(path, ": not a readable DICOM file (DCMTK: ", c.text(), ")");
    return ff;
}

inline std::unique_ptr<DcmFileFormat> dicom_load_memory(const void* data, size_t size, const std::string& name) {
    dicom_init_once();
    auto ff = std::make_unique<DcmFileFormat>();
    DcmInputBufferStream in;
    in.setBuffer(data, static_cast<offile_off_t>(size));
    in.setEos();
    ff->transferInit();
    // No element can be longer than the whole buffer: bounding maxReadLength by its size keeps DCMTK from
    // reserving whatever a corrupt length field claims (its buffer stream cannot check the remaining bytes).
    const Uint32 max_read = static_cast<Uint32>(std::min<size_t>(std::max<size_t>(size, 4096), 0xFFFFFFF0u));
    const OFCondition c = ff->read(in, EXS_Unknown, EGL_noChange, max_read);
    ff->transferEnd();
    if (c.bad()) fail(name, ": not a readable DICOM file (DCMTK: ", c.text(), ")");
    return ff;
}

}  // namespace ichseg::io::detail
