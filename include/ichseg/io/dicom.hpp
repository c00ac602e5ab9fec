/// @file dicom.hpp
/// @brief DICOM CT through DCMTK (target ichseg::io): single images in Hounsfield units, whole series as
/// `io::Volume`, and a writer for test fixtures and the phantom generator.
///
/// Reading one image (`read_dicom_slice`):
///  * the file is parsed with or without the 128-byte preamble; encapsulated pixel data is decoded by DCMTK's
///    codecs (JPEG baseline/extended/lossless, JPEG-LS, RLE). JPEG 2000 is refused with an explicit message:
///    Debian's DCMTK is built without OpenJPEG;
///  * checks, each an ichseg::Error naming the file: not DICOM / no image attributes, Modality other than CT
///    (unless `require_ct = false`), SamplesPerPixel != 1, multi-frame images, BitsAllocated other than 8/16/32,
///    BitsStored / HighBit inconsistent, missing PixelData, PixelData shorter than Rows x Columns (the RSNA
///    "ID_6431af929" case), non-finite rescale values;
///  * HU = stored * RescaleSlope + RescaleIntercept, where `stored` keeps only BitsStored bits starting at
///    HighBit + 1 - BitsStored and is sign-extended when PixelRepresentation = 1. A missing slope / intercept
///    defaults to 1 / 0 and is recorded as a warning;
///  * the RSNA quirk (`rsna_12bit_fix`, on by default): when BitsStored = 12, PixelRepresentation = 0 and
///    RescaleIntercept > -100, stored values are `(s + 1000) mod 4096` and the intercept becomes -1000
///    (the canonical fix of the Kaggle competition; such a header is never valid for CT, whose air is about
///    -1000 HU). `DicomSlice::rsna_fix_applied` tells when it happened;
///  * WindowCenter / WindowWidth keep every value (multi-valued tags happen; element 0 is the usual choice).
///
/// Series (`scan_dicom_folder`, `read_dicom_series`): files are grouped by SeriesInstanceUID; within a series,
/// images whose ImageType says LOCALIZER, whose orientation differs from the series' majority orientation, or
/// whose Rows / Columns differ from the majority are dropped with a reason; the rest are ordered by the projection
/// of ImagePositionPatient on the slice normal (row cosine x column cosine), not by InstanceNumber or file name.
/// Two images at the same position, a missing slice (a step that is a multiple of the typical step) and uneven
/// spacing are errors by default (`SeriesReadOptions` can accept them, which records warnings). The affine is built
/// from the first position, the cosines, PixelSpacing and the mean step vector between first and last slice, so a
/// gantry tilt gives a sheared affine (as dicom2nifti without resampling), converted from LPS to RAS.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/log.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::io {

struct DicomReadOptions {
    bool require_ct = true;       ///< Modality must be "CT"
    bool rsna_12bit_fix = true;   ///< apply the RSNA BitsStored-12 offset fix (see the file comment)
    int64_t max_pixels = int64_t(16384) * 16384;  ///< refuse larger images (corrupt headers)
};

/// The attributes of one DICOM image that the data layer uses (no pixel data).
struct DicomHeader {
    std::string path;
    std::string transfer_syntax_uid, transfer_syntax_name;
    std::string sop_class_uid, sop_instance_uid, study_uid, series_uid, study_id, patient_id;
    std::string modality, series_description, image_type, convolution_kernel, photometric, contrast_agent;
    int rows = 0, cols = 0, bits_allocated = 0, bits_stored = 0, high_bit = -1, pixel_representation = 0;
    int samples_per_pixel = 1, number_of_frames = 1;
    int64_t instance_number = -1;       ///< -1 when absent (RSNA files have none)
    bool has_position = false, has_orientation = false, has_pixel_spacing = false;
    std::array<double, 3> position{0, 0, 0};              ///< ImagePositionPatient (LPS mm)
    std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};  ///< ImageOrientationPatient (row, column cosines)
    std::array<double, 2> pixel_spacing{1, 1};            ///< PixelSpacing: [between rows, between columns]
    double slice_thickness = 0;                           ///< 0 when absent
    bool has_rescale = false;
    double rescale_slope = 1, rescale_intercept = 0;
    std::vector<double> window_center, window_width;      ///< all values (VM may be > 1)
    bool has_pixel_data = false;

    bool is_localizer() const {
        std::string t = image_type;
        for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return t.find("LOCALIZER") != std::string::npos || t.find("SCOUT") != std::string::npos;
    }
    /// Slice normal: row cosine x column cosine (LPS).
    std::array<double, 3> normal() const {
        const auto& o = orientation;
        return {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
    }
};

/// One image in HU (rows x cols, row-major) and its header.
struct DicomSlice {
    DicomHeader header;
    std::vector<float> hu;
    bool rsna_fix_applied = false;
    std::vector<std::string> warnings;
};

namespace detail {

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
    });
    if (!dcmDataDict.isDictionaryLoaded())
        fail("DCMTK: no DICOM data dictionary is loaded (install the dcmtk package or set DCMDICTPATH)");
}

inline bool is_jpeg2000(E_TransferSyntax x) {
    return x == EXS_JPEG2000LosslessOnly || x == EXS_JPEG2000 || x == EXS_JPEG2000MulticomponentLosslessOnly ||
           x == EXS_JPEG2000Multicomponent;
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

inline DicomHeader parse_header(DcmFileFormat& ff, const std::string& path) {
    DicomHeader h;
    h.path = path;
    DcmDataset* ds = ff.getDataset();
    const E_TransferSyntax xs = ds->getOriginalXfer();
    const DcmXfer xfer(xs);
    h.transfer_syntax_uid = xfer.getXferID();
    h.transfer_syntax_name = xfer.getXferName();
    DcmMetaInfo* meta = ff.getMetaInfo();
    if (meta) {
        std::string ts = get_string(meta, DCM_TransferSyntaxUID);
        if (!ts.empty()) h.transfer_syntax_uid = ts;
    }
    h.sop_class_uid = get_string(ds, DCM_SOPClassUID);
    h.sop_instance_uid = get_string(ds, DCM_SOPInstanceUID);
    h.study_uid = get_string(ds, DCM_StudyInstanceUID);
    h.series_uid = get_string(ds, DCM_SeriesInstanceUID);
    h.study_id = get_string(ds, DCM_StudyID);
    h.patient_id = get_string(ds, DCM_PatientID);
    h.modality = get_string(ds, DCM_Modality);
    h.series_description = get_string(ds, DCM_SeriesDescription);
    h.image_type = get_string(ds, DCM_ImageType);
    h.convolution_kernel = get_string(ds, DCM_ConvolutionKernel);
    h.photometric = get_string(ds, DCM_PhotometricInterpretation);
    h.contrast_agent = get_string(ds, DCM_ContrastBolusAgent);
    int64_t v = 0;
    if (get_int(ds, DCM_Rows, v, path, "Rows")) h.rows = static_cast<int>(std::clamp<int64_t>(v, -1, 1 << 30));
    if (get_int(ds, DCM_Columns, v, path, "Columns")) h.cols = static_cast<int>(std::clamp<int64_t>(v, -1, 1 << 30));
    if (get_int(ds, DCM_BitsAllocated, v, path, "BitsAllocated")) h.bits_allocated = static_cast<int>(std::clamp<int64_t>(v, -1, 1024));
    if (get_int(ds, DCM_BitsStored, v, path, "BitsStored")) h.bits_stored = static_cast<int>(std::clamp<int64_t>(v, -1, 1024));
    if (get_int(ds, DCM_HighBit, v, path, "HighBit")) h.high_bit = static_cast<int>(std::clamp<int64_t>(v, -1, 1024));
    if (get_int(ds, DCM_PixelRepresentation, v, path, "PixelRepresentation")) h.pixel_representation = static_cast<int>(std::clamp<int64_t>(v, -1, 2));
    if (get_int(ds, DCM_SamplesPerPixel, v, path, "SamplesPerPixel")) h.samples_per_pixel = static_cast<int>(std::clamp<int64_t>(v, -1, 1024));
    if (get_int(ds, DCM_NumberOfFrames, v, path, "NumberOfFrames")) h.number_of_frames = static_cast<int>(std::clamp<int64_t>(v, -1, 1 << 30));
    if (get_int(ds, DCM_InstanceNumber, v, path, "InstanceNumber")) h.instance_number = v;
    std::vector<double> n;
    if (get_numbers(ds, DCM_ImagePositionPatient, n, path, "ImagePositionPatient")) {
        if (n.size() != 3) fail(path, ": ImagePositionPatient has ", n.size(), " values (expected 3)");
        h.position = {n[0], n[1], n[2]};
        h.has_position = true;
    }
    if (get_numbers(ds, DCM_ImageOrientationPatient, n, path, "ImageOrientationPatient")) {
        if (n.size() != 6) fail(path, ": ImageOrientationPatient has ", n.size(), " values (expected 6)");
        const double r = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        const double c = std::sqrt(n[3] * n[3] + n[4] * n[4] + n[5] * n[5]);
        if (r < 1e-6 || c < 1e-6) fail(path, ": ImageOrientationPatient has a zero direction");
        for (int i = 0; i < 3; ++i) {
            h.orientation[static_cast<size_t>(i)] = n[static_cast<size_t>(i)] / r;
            h.orientation[static_cast<size_t>(i + 3)] = n[static_cast<size_t>(i + 3)] / c;
        }
        const auto& o = h.orientation;
        if (std::fabs(o[0] * o[3] + o[1] * o[4] + o[2] * o[5]) > 1e-3)
            fail(path, ": ImageOrientationPatient row and column directions are not perpendicular");
        h.has_orientation = true;
    }
    if (get_numbers(ds, DCM_PixelSpacing, n, path, "PixelSpacing")) {
        if (n.size() != 2) fail(path, ": PixelSpacing has ", n.size(), " values (expected 2)");
        if (!(n[0] > 0 && n[1] > 0)) fail(path, ": PixelSpacing ", n[0], "\\", n[1], " must be positive");
        h.pixel_spacing = {n[0], n[1]};
        h.has_pixel_spacing = true;
    }
    if (get_numbers(ds, DCM_SliceThickness, n, path, "SliceThickness") && n[0] > 0) h.slice_thickness = n[0];
    bool has_slope = false, has_inter = false;
    if (get_numbers(ds, DCM_RescaleSlope, n, path, "RescaleSlope")) {
        h.rescale_slope = n[0];
        has_slope = true;
    }
    if (get_numbers(ds, DCM_RescaleIntercept, n, path, "RescaleIntercept")) {
        h.rescale_intercept = n[0];
        has_inter = true;
    }
    h.has_rescale = has_slope && has_inter;
    get_numbers(ds, DCM_WindowCenter, h.window_center, path, "WindowCenter");
    get_numbers(ds, DCM_WindowWidth, h.window_width, path, "WindowWidth");
    DcmElement* pd = nullptr;
    h.has_pixel_data = ds->findAndGetElement(DCM_PixelData, pd).good() && pd != nullptr;
    return h;
}

/// Validate what an image needs, independent of the pixel payload.
inline void check_image_header(const DicomHeader& h, const DicomReadOptions& opt) {
    const std::string& p = h.path;
    if (h.rows == 0 && h.cols == 0 && !h.has_pixel_data && h.sop_class_uid.empty())
        fail(p, ": not a DICOM image (no Rows, Columns, SOPClassUID or PixelData)");
    if (opt.require_ct && h.modality != "CT")
        fail(p, ": modality '", h.modality.empty() ? std::string("(missing)") : h.modality,
             "' is not CT (only CT images are read; pass require_ct = false to override)");
    if (h.rows <= 0 || h.cols <= 0) fail(p, ": invalid image size Rows ", h.rows, " x Columns ", h.cols);
    if (static_cast<int64_t>(h.rows) * h.cols > opt.max_pixels)
        fail(p, ": image of ", h.rows, " x ", h.cols, " pixels exceeds the limit of ", opt.max_pixels);
    if (h.samples_per_pixel != 1)
        fail(p, ": SamplesPerPixel ", h.samples_per_pixel, " (only single-channel CT images are supported)");
    if (h.number_of_frames != 1)
        fail(p, ": multi-frame image (NumberOfFrames ", h.number_of_frames,
             "); enhanced multi-frame CT is not supported");
    if (h.bits_allocated != 8 && h.bits_allocated != 16 && h.bits_allocated != 32)
        fail(p, ": unsupported BitsAllocated ", h.bits_allocated, " (8, 16 or 32 expected)");
    if (h.bits_stored < 1 || h.bits_stored > h.bits_allocated)
        fail(p, ": invalid BitsStored ", h.bits_stored, " for BitsAllocated ", h.bits_allocated);
    const int hb = h.high_bit < 0 ? h.bits_stored - 1 : h.high_bit;
    if (hb < h.bits_stored - 1 || hb >= h.bits_allocated)
        fail(p, ": invalid HighBit ", h.high_bit, " for BitsStored ", h.bits_stored, " and BitsAllocated ",
             h.bits_allocated);
    if (h.pixel_representation != 0 && h.pixel_representation != 1)
        fail(p, ": invalid PixelRepresentation ", h.pixel_representation);
    if (h.photometric != "MONOCHROME2" && h.photometric != "MONOCHROME1" && !h.photometric.empty())
        fail(p, ": PhotometricInterpretation '", h.photometric, "' is not a grey-scale CT image");
    if (!std::isfinite(h.rescale_slope) || h.rescale_slope == 0)
        fail(p, ": invalid RescaleSlope ", h.rescale_slope);
    if (!h.has_pixel_data) fail(p, ": no PixelData element (header-only or corrupt file)");
}

/// Decode (if needed) and convert the pixel data of a loaded dataset to HU.
inline void decode_hu(DcmFileFormat& ff, DicomSlice& s, const DicomReadOptions& opt) {
    DicomHeader& h = s.header;
    const std::string& p = h.path;
    DcmDataset* ds = ff.getDataset();
    const E_TransferSyntax xs = ds->getOriginalXfer();
    const DcmXfer xfer(xs);
    if (is_jpeg2000(xs))
        fail(p, ": JPEG 2000 compressed pixel data (transfer syntax ", h.transfer_syntax_uid,
             ") is not supported by this DCMTK build (Debian's DCMTK has no OpenJPEG); decompress the file first, "
             "e.g. with GDCM: gdcmconv --raw in.dcm out.dcm");
    if (xfer.isEncapsulated()) {
        const OFCondition c = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
        if (c.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
            fail(p, ": cannot decode the compressed pixel data (transfer syntax ", h.transfer_syntax_name, ", ",
                 h.transfer_syntax_uid, "): ", c.bad() ? c.text() : "no decoder for this transfer syntax");
    }
    DcmElement* el = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el) fail(p, ": no PixelData element");
    const int64_t npix = static_cast<int64_t>(h.rows) * h.cols;
    const int bytes = h.bits_allocated / 8;
    const int64_t need = npix * bytes;
    const int64_t have = static_cast<int64_t>(el->getLength());
    if (have < need)
        fail(p, ": PixelData holds ", have, " bytes but Rows x Columns x BitsAllocated/8 = ", h.rows, " x ", h.cols,
             " x ", bytes, " = ", need, " (truncated or corrupt pixel data)");
    const int hb = h.high_bit < 0 ? h.bits_stored - 1 : h.high_bit;
    const int shift = hb + 1 - h.bits_stored;
    const uint64_t mask = h.bits_stored >= 64 ? ~uint64_t(0) : ((uint64_t(1) << h.bits_stored) - 1);
    const bool is_signed = h.pixel_representation == 1;
    double slope = h.rescale_slope, inter = h.rescale_intercept;
    if (!h.has_rescale) {
        s.warnings.push_back("RescaleSlope/RescaleIntercept missing: using 1 / 0 (values assumed to be HU)");
    }
    const bool quirk = opt.rsna_12bit_fix && h.bits_stored == 12 && h.pixel_representation == 0 && inter > -100;
    if (quirk) {
        inter = -1000;
        s.rsna_fix_applied = true;
        s.warnings.push_back("RSNA 12-bit quirk: stored values offset by 1000 (mod 4096), intercept set to -1000");
    }
    s.hu.resize(static_cast<size_t>(npix));
    float* out = s.hu.data();
    auto convert = [&](auto raw_at) {
        for (int64_t i = 0; i < npix; ++i) {
            uint64_t u = (static_cast<uint64_t>(raw_at(i)) >> shift) & mask;
            int64_t sv = static_cast<int64_t>(u);
            if (is_signed && h.bits_stored < 64 && (u >> (h.bits_stored - 1)) & 1u)
                sv -= static_cast<int64_t>(uint64_t(1) << h.bits_stored);
            if (quirk) {
                sv += 1000;
                if (sv >= 4096) sv -= 4096;
            }
            out[i] = static_cast<float>(static_cast<double>(sv) * slope + inter);
        }
    };
    OFCondition c;
    if (h.bits_allocated == 8) {
        const Uint8* d = nullptr;
        c = el->getUint8Array(const_cast<Uint8*&>(d));
        if (c.bad() || !d) fail(p, ": cannot access the 8-bit pixel data (", c.text(), ")");
        convert([d](int64_t i) { return d[i]; });
    } else if (h.bits_allocated == 16) {
        Uint16* d = nullptr;
        c = el->getUint16Array(d);
        if (c.bad() || !d) {
            // OB-encoded 16-bit data: take the bytes in the dataset's byte order
            Uint8* b = nullptr;
            if (el->getUint8Array(b).bad() || !b) fail(p, ": cannot access the 16-bit pixel data (", c.text(), ")");
            convert([b](int64_t i) { return static_cast<uint16_t>(b[2 * i] | (b[2 * i + 1] << 8)); });
        } else if (shift == 0 && h.bits_stored == 16 && !quirk) {
            // the common case: plain 16-bit words, a straight multiply-add (vectorises)
            const float fs = static_cast<float>(slope), fi = static_cast<float>(inter);
            // float arithmetic is exact (identical to the double path) for an integer slope and intercept
            const bool exact = slope == std::round(slope) && std::fabs(slope) <= 128 && inter == std::round(inter) &&
                               std::fabs(inter) < 4194304.0;
            if (is_signed) {
                const Sint16* sd = reinterpret_cast<const Sint16*>(d);
                if (exact)
                    for (int64_t i = 0; i < npix; ++i) out[i] = static_cast<float>(sd[i]) * fs + fi;
                else
                    for (int64_t i = 0; i < npix; ++i) out[i] = static_cast<float>(static_cast<double>(sd[i]) * slope + inter);
            } else {
                if (exact)
                    for (int64_t i = 0; i < npix; ++i) out[i] = static_cast<float>(d[i]) * fs + fi;
                else
                    for (int64_t i = 0; i < npix; ++i) out[i] = static_cast<float>(static_cast<double>(d[i]) * slope + inter);
            }
        } else {
            convert([d](int64_t i) { return d[i]; });
        }
    } else {
        Uint32* d = nullptr;
        c = el->getUint32Array(d);
        if (c.bad() || !d) {
            Uint8* b = nullptr;
            if (el->getUint8Array(b).bad() || !b) fail(p, ": cannot access the 32-bit pixel data (", c.text(), ")");
            convert([b](int64_t i) {
                return static_cast<uint32_t>(b[4 * i]) | (static_cast<uint32_t>(b[4 * i + 1]) << 8) |
                       (static_cast<uint32_t>(b[4 * i + 2]) << 16) | (static_cast<uint32_t>(b[4 * i + 3]) << 24);
            });
        } else {
            convert([d](int64_t i) { return d[i]; });
        }
    }
    for (const auto& w : s.warnings) log(LogLevel::info, p, ": ", w);
}

}  // namespace detail

/// Header of one DICOM file (pixel data not read). Errors only for unreadable files or malformed numbers.
inline DicomHeader read_dicom_header(const std::string& path) {
    auto ff = detail::dicom_load_file(path, true);
    return detail::parse_header(*ff, path);
}

/// One CT image in HU.
inline DicomSlice read_dicom_slice(const std::string& path, const DicomReadOptions& opt = {}) {
    auto ff = detail::dicom_load_file(path, false);
    DicomSlice s;
    s.header = detail::parse_header(*ff, path);
    detail::check_image_header(s.header, opt);
    detail::decode_hu(*ff, s, opt);
    return s;
}

/// Same as read_dicom_slice, from bytes in memory (`name` is used in messages).
inline DicomSlice read_dicom_slice_from_memory(const void* data, size_t size, const std::string& name,
                                               const DicomReadOptions& opt = {}) {
    auto ff = detail::dicom_load_memory(data, size, name);
    DicomSlice s;
    s.header = detail::parse_header(*ff, name);
    detail::check_image_header(s.header, opt);
    detail::decode_hu(*ff, s, opt);
    return s;
}

/// A one-slice volume from a single DICOM image (affine from its position, orientation and spacing).
inline Volume dicom_slice_to_volume(const DicomSlice& s) {
    const DicomHeader& h = s.header;
    Volume v;
    v.voxels = Tensor<float>::empty({1, h.rows, h.cols});
    std::copy(s.hu.begin(), s.hu.end(), v.voxels.data());
    const auto& o = h.orientation;
    const auto nrm = h.normal();
    const double dz = h.slice_thickness > 0 ? h.slice_thickness : 1.0;
    Affine a;
    for (int r = 0; r < 3; ++r) {
        const double sign = r < 2 ? -1.0 : 1.0;  // LPS -> RAS
        a(r, 0) = sign * o[static_cast<size_t>(r)] * h.pixel_spacing[1];
        a(r, 1) = sign * o[static_cast<size_t>(r + 3)] * h.pixel_spacing[0];
        a(r, 2) = sign * nrm[static_cast<size_t>(r)] * dz;
        a(r, 3) = sign * h.position[static_cast<size_t>(r)];
    }
    v.affine = a;
    v.spacing = {h.pixel_spacing[1], h.pixel_spacing[0], dz};
    v.source.path = h.path;
    v.source.format = "dicom";
    v.source.stored_type = std::string(h.pixel_representation ? "int" : "uint") + std::to_string(h.bits_allocated) +
                           " (" + std::to_string(h.bits_stored) + " bits stored)";
    v.source.modality = h.modality;
    v.source.patient_id = h.patient_id;
    v.source.study_uid = h.study_uid;
    v.source.series_uid = h.series_uid;
    v.source.series_description = h.series_description;
    v.source.files = {h.path};
    v.source.warnings = s.warnings;
    if (!h.has_position || !h.has_orientation) v.source.warnings.push_back("no ImagePositionPatient/ImageOrientationPatient: affine is a placeholder");
    if (!h.has_pixel_spacing) v.source.warnings.push_back("no PixelSpacing: 1 mm assumed");
    return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Series
// ---------------------------------------------------------------------------------------------------------------

/// The images of one SeriesInstanceUID, geometry-checked and ordered along the slice normal.
struct DicomSeries {
    std::string series_uid, study_uid, patient_id, series_description, convolution_kernel, modality, folder;
    std::vector<DicomHeader> slices;    ///< kept images, sorted by position along the normal
    std::vector<double> positions;      ///< projection of each ImagePositionPatient on the normal (mm)
    std::vector<Skipped> dropped;       ///< localizers, odd orientation / size, files without geometry
    double step = 0;                    ///< typical (median) slice step, mm
    double slice_thickness = 0;         ///< SliceThickness of the first slice (0 if absent)
    bool uneven = false;                ///< steps differ by more than the tolerance
    int64_t missing = 0;                ///< slices missing where a step is a multiple of the typical step
    bool duplicate_positions = false;
    std::string geometry_problem;       ///< human-readable summary when uneven/missing/duplicates
    bool has_contrast = false;          ///< ContrastBolusAgent present or "contrast"/"post" in the description
    int64_t size() const { return static_cast<int64_t>(slices.size()); }
};

struct SeriesReadOptions {
    DicomReadOptions dicom;
    bool allow_missing_slices = false;  ///< keep a series with gaps (the grid then skips them; recorded as warning)
    bool allow_uneven_spacing = false;  ///< keep a series with uneven steps (recorded as warning)
    double spacing_tolerance = 0.02;    ///< relative tolerance on the step (absolute floor 0.01 mm)
};

namespace detail {

inline std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

/// Order and check the geometry of one series (headers of a single SeriesInstanceUID).
inline DicomSeries build_series(std::vector<DicomHeader> hs, const SeriesReadOptions& opt) {
    DicomSeries s;
    ICHSEG_CHECK(!hs.empty(), "build_series: no images");
    s.series_uid = hs[0].series_uid;
    s.study_uid = hs[0].study_uid;
    s.patient_id = hs[0].patient_id;
    s.series_description = hs[0].series_description;
    s.convolution_kernel = hs[0].convolution_kernel;
    s.modality = hs[0].modality;
    // Drop localizers and files without geometry.
    std::vector<DicomHeader> kept;
    for (auto& h : hs) {
        if (h.is_localizer()) {
            s.dropped.push_back({h.path, "localizer (ImageType " + h.image_type + ")"});
        } else if (!h.has_position || !h.has_orientation) {
            s.dropped.push_back({h.path, "no ImagePositionPatient / ImageOrientationPatient: cannot place it"});
        } else {
            kept.push_back(std::move(h));
        }
    }
    // Majority orientation and size.
    auto okey = [](const DicomHeader& h) {
        std::string k;
        for (double v : h.orientation) k += std::to_string(static_cast<long long>(std::llround(v * 1000))) + ",";
        return k + std::to_string(h.rows) + "x" + std::to_string(h.cols);
    };
    std::map<std::string, int> votes;
    for (const auto& h : kept) votes[okey(h)]++;
    std::string best;
    int bestn = 0;
    for (const auto& kv : votes)
        if (kv.second > bestn) {
            best = kv.first;
            bestn = kv.second;
        }
    std::vector<DicomHeader> sl;
    for (auto& h : kept) {
        if (okey(h) == best) sl.push_back(std::move(h));
        else
            s.dropped.push_back({h.path, "orientation or image size differs from the rest of the series "
                                         "(localizer, reformat or secondary image)"});
    }
    if (sl.empty()) {
        s.geometry_problem = "no image with usable geometry";
        return s;
    }
    const auto nrm = sl[0].normal();
    auto proj = [&](const DicomHeader& h) {
        return h.position[0] * nrm[0] + h.position[1] * nrm[1] + h.position[2] * nrm[2];
    };
    std::stable_sort(sl.begin(), sl.end(), [&](const DicomHeader& a, const DicomHeader& b) { return proj(a) < proj(b); });
    // Identical copies of one SOP instance: keep one.
    std::vector<DicomHeader> uniq;
    for (auto& h : sl) {
        if (!uniq.empty() && std::fabs(proj(uniq.back()) - proj(h)) < 1e-4 && !h.sop_instance_uid.empty() &&
            h.sop_instance_uid == uniq.back().sop_instance_uid) {
            s.dropped.push_back({h.path, "duplicate of " + uniq.back().path + " (same SOPInstanceUID)"});
            continue;
        }
        uniq.push_back(std::move(h));
    }
    s.slices = std::move(uniq);
    for (const auto& h : s.slices) s.positions.push_back(proj(h));
    s.slice_thickness = s.slices[0].slice_thickness;
    const std::string desc = upper(s.series_description);
    s.has_contrast = !s.slices[0].contrast_agent.empty() ||
                     ((desc.find("CONTRAST") != std::string::npos && desc.find("PRE") == std::string::npos &&
                       desc.find("NON") == std::string::npos && desc.find("WITHOUT") == std::string::npos) ||
                      desc.find("POST") != std::string::npos || desc.find("C+") != std::string::npos);
    const size_t n = s.slices.size();
    if (n < 2) {
        s.step = s.slice_thickness > 0 ? s.slice_thickness : 0;
        return s;
    }
    std::vector<double> d(n - 1);
    for (size_t i = 0; i + 1 < n; ++i) d[i] = s.positions[i + 1] - s.positions[i];
    std::vector<double> sorted = d;
    std::sort(sorted.begin(), sorted.end());
    // Typical step: median of the non-zero steps.
    std::vector<double> nz;
    for (double x : sorted)
        if (x > 1e-4) nz.push_back(x);
    s.step = nz.empty() ? 0 : nz[nz.size() / 2];
    std::string problems;
    for (size_t i = 0; i + 1 < n; ++i) {
        if (d[i] <= 1e-4) {
            s.duplicate_positions = true;
            problems += "two images at the same position " + std::to_string(s.positions[i]) + " mm: " +
                        s.slices[i].path + " and " + s.slices[i + 1].path + "; ";
            continue;
        }
        const double tol = std::max(0.01, opt.spacing_tolerance * s.step);
        if (std::fabs(d[i] - s.step) <= tol) continue;
        const double ratio = d[i] / s.step;
        const double r = std::round(ratio);
        if (r >= 2 && std::fabs(d[i] - r * s.step) <= tol * r) {
            s.missing += static_cast<int64_t>(r) - 1;
            problems += std::to_string(static_cast<int>(r) - 1) + " slice(s) missing between " +
                        std::to_string(s.positions[i]) + " and " + std::to_string(s.positions[i + 1]) + " mm; ";
        } else {
            s.uneven = true;
            problems += "uneven step " + std::to_string(d[i]) + " mm (typical " + std::to_string(s.step) +
                        " mm) between " + s.slices[i].path + " and " + s.slices[i + 1].path + "; ";
        }
    }
    if (!problems.empty()) problems.erase(problems.size() - 2);
    s.geometry_problem = problems;
    return s;
}

inline bool looks_like_dicom_name(const std::filesystem::path& p) {
    const std::string ext = upper(p.extension().string());
    if (ext == ".DCM" || ext == ".DICOM" || ext == ".IMA") return true;
    if (ext.empty()) return true;  // DICOM files often have no extension (e.g. CT000001)
    return false;
}

}  // namespace detail

struct ScanOptions {
    bool recursive = true;
    /// Also try files with other extensions than .dcm/.ima/none (slower on folders full of other files).
    bool any_extension = false;
    DicomReadOptions dicom;
    SeriesReadOptions series;
};

/// Read the headers of every DICOM file under `folder` and group them into series (ordered by SeriesInstanceUID).
/// Unreadable files and non-image / non-CT files are recorded in `skipped` (and logged) and the scan goes on.
/// Error when the folder does not exist.
inline std::vector<DicomSeries> scan_dicom_folder(const std::string& folder, const ScanOptions& opt = {},
                                                  std::vector<Skipped>* skipped = nullptr) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(folder, ec)) fail(folder, ": no such folder");
    if (!fs::is_directory(folder, ec)) fail(folder, ": not a folder");
    std::vector<std::string> files;
    auto consider = [&](const fs::directory_entry& e) {
        std::error_code e2;
        if (!e.is_regular_file(e2)) return;
        const std::string name = e.path().filename().string();
        if (name.empty() || name[0] == '.') return;
        if (name == "DICOMDIR") return;
        if (opt.any_extension || detail::looks_like_dicom_name(e.path())) files.push_back(e.path().string());
    };
    if (opt.recursive) {
        for (fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end;
             !ec && it != end; it.increment(ec))
            consider(*it);
    } else {
        for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) consider(*it);
    }
    if (ec) fail(folder, ": cannot list the folder: ", ec.message());
    std::sort(files.begin(), files.end());
    std::vector<Skipped> local;
    std::vector<Skipped>& sk = skipped ? *skipped : local;
    std::map<std::string, std::vector<DicomHeader>> by_series;
    for (const auto& f : files) {
        try {
            DicomHeader h = read_dicom_header(f);
            detail::check_image_header(h, opt.dicom);
            if (h.series_uid.empty()) {
                record_skip(sk, f, "no SeriesInstanceUID");
                continue;
            }
            by_series[h.series_uid].push_back(std::move(h));
        } catch (const Error& e) {
            std::string msg = e.what();
            if (msg.compare(0, f.size() + 2, f + ": ") == 0) msg = msg.substr(f.size() + 2);
            record_skip(sk, f, msg);
        }
    }
    std::vector<DicomSeries> out;
    for (auto& kv : by_series) {
        DicomSeries s = detail::build_series(std::move(kv.second), opt.series);
        s.folder = s.slices.empty() ? folder : fs::path(s.slices[0].path).parent_path().string();
        for (const auto& d : s.dropped) log(LogLevel::info, "series ", s.series_uid, ": dropped ", d.path, ": ", d.reason);
        if (s.slices.empty()) {
            record_skip(sk, folder, "series " + s.series_uid + ": " + s.geometry_problem);
            continue;
        }
        out.push_back(std::move(s));
    }
    return out;
}

/// Read the pixel data of an ordered series into a volume (nz = number of kept slices, k along the normal).
inline Volume read_dicom_series(const DicomSeries& s, const SeriesReadOptions& opt = {}) {
    const std::string where = s.folder.empty() ? ("series " + s.series_uid) : s.folder;
    if (s.slices.empty()) fail(where, ": series ", s.series_uid, " has no usable image");
    if (s.duplicate_positions) fail(where, ": ", s.geometry_problem);
    if (s.missing > 0 && !opt.allow_missing_slices)
        fail(where, ": series ", s.series_uid, ": ", s.geometry_problem,
             " (pass allow_missing_slices to read it anyway)");
    if (s.uneven && !opt.allow_uneven_spacing)
        fail(where, ": series ", s.series_uid, ": ", s.geometry_problem,
             " (pass allow_uneven_spacing to read it anyway)");
    const DicomHeader& h0 = s.slices[0];
    if (!h0.has_pixel_spacing) fail(h0.path, ": no PixelSpacing: cannot build the series geometry");
    const int64_t nz = s.size(), ny = h0.rows, nx = h0.cols;
    Volume v;
    v.voxels = Tensor<float>::empty({nz, ny, nx});
    std::vector<std::string> warnings;
    for (int64_t k = 0; k < nz; ++k) {
        const DicomHeader& hk = s.slices[static_cast<size_t>(k)];
        DicomSlice sl = read_dicom_slice(hk.path, opt.dicom);
        if (sl.header.rows != ny || sl.header.cols != nx)
            fail(hk.path, ": image size ", sl.header.rows, "x", sl.header.cols, " differs from the series (", ny, "x",
                 nx, ")");
        std::copy(sl.hu.begin(), sl.hu.end(), v.slice(k));
        for (const auto& w : sl.warnings) warnings.push_back(hk.path + ": " + w);
        v.source.files.push_back(hk.path);
    }
    const auto& o = h0.orientation;
    std::array<double, 3> kstep;
    if (nz >= 2) {
        const auto& pl = s.slices.back().position;
        for (int r = 0; r < 3; ++r)
            kstep[static_cast<size_t>(r)] = (pl[static_cast<size_t>(r)] - h0.position[static_cast<size_t>(r)]) /
                                            static_cast<double>(nz - 1 + s.missing);
    } else {
        const auto nrm = h0.normal();
        const double dz = h0.slice_thickness > 0 ? h0.slice_thickness : 1.0;
        for (int r = 0; r < 3; ++r) kstep[static_cast<size_t>(r)] = nrm[static_cast<size_t>(r)] * dz;
    }
    Affine a;
    for (int r = 0; r < 3; ++r) {
        const double sign = r < 2 ? -1.0 : 1.0;  // LPS -> RAS
        a(r, 0) = sign * o[static_cast<size_t>(r)] * h0.pixel_spacing[1];
        a(r, 1) = sign * o[static_cast<size_t>(r + 3)] * h0.pixel_spacing[0];
        a(r, 2) = sign * kstep[static_cast<size_t>(r)];
        a(r, 3) = sign * h0.position[static_cast<size_t>(r)];
    }
    v.affine = a;
    v.spacing = a.spacing();
    v.source.path = where;
    v.source.format = "dicom";
    v.source.stored_type = std::string(h0.pixel_representation ? "int" : "uint") + std::to_string(h0.bits_allocated) +
                           " (" + std::to_string(h0.bits_stored) + " bits stored)";
    v.source.modality = h0.modality;
    v.source.patient_id = h0.patient_id;
    v.source.study_uid = h0.study_uid;
    v.source.series_uid = s.series_uid;
    v.source.series_description = s.series_description;
    if (!s.geometry_problem.empty()) warnings.push_back(s.geometry_problem);
    for (const auto& d : s.dropped) warnings.push_back("dropped " + d.path + ": " + d.reason);
    v.source.warnings = warnings;
    return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing (fixtures, phantoms)
// ---------------------------------------------------------------------------------------------------------------

enum class DicomTransferSyntax { explicit_le, implicit_le, explicit_be, jpeg_lossless, jpegls_lossless, rle };

/// Everything written into one CT image. Attributes with empty strings / negative numbers are omitted.
struct DicomWriteSpec {
    int rows = 0, cols = 0;
    std::string modality = "CT";
    std::string patient_id, study_uid, series_uid, sop_uid, study_id;
    std::string series_description, image_type = "ORIGINAL\\PRIMARY\\AXIAL", convolution_kernel, contrast_agent;
    int64_t instance_number = -1;
    bool write_geometry = true;
    std::array<double, 3> position{0, 0, 0};
    std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
    std::array<double, 2> pixel_spacing{0.5, 0.5};  ///< [between rows, between columns]
    double slice_thickness = 0;
    std::vector<double> window_center{40}, window_width{80};
    bool write_rescale = true;
    double rescale_slope = 1, rescale_intercept = -1024;
    int bits_stored = 16;
    int pixel_representation = 1;
    /// Encode as the RSNA quirk: 12 bits, unsigned, intercept 0, stored = (HU + 1000 - 1000) mod 4096 ... i.e. the
    /// stored value that the RSNA fix maps back to HU (requires -1000 <= HU <= 3095).
    bool rsna_quirk = false;
    DicomTransferSyntax transfer_syntax = DicomTransferSyntax::explicit_le;
    bool write_pixel_data = true;
    int64_t pixel_count_override = -1;  ///< write only this many pixels (to make a short PixelData fixture)
    bool write_meta_header = true;      ///< false: a bare dataset without preamble (old-style files)
};

namespace detail {
inline E_TransferSyntax to_dcmtk(DicomTransferSyntax t) {
    switch (t) {
        case DicomTransferSyntax::implicit_le: return EXS_LittleEndianImplicit;
        case DicomTransferSyntax::explicit_be: return EXS_BigEndianExplicit;
        case DicomTransferSyntax::jpeg_lossless: return EXS_JPEGProcess14SV1;
        case DicomTransferSyntax::jpegls_lossless: return EXS_JPEGLSLossless;
        case DicomTransferSyntax::rle: return EXS_RLELossless;
        default: return EXS_LittleEndianExplicit;
    }
}
inline std::string join_ds(const double* v, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.10g", v[i]);
        std::string t = buf;
        if (t.size() > 16) {  // DS is at most 16 characters
            std::snprintf(buf, sizeof buf, "%.8g", v[i]);
            t = buf;
        }
        s += (i ? "\\" : "") + t;
    }
    return s;
}
}  // namespace detail

/// A new DICOM UID under the 2.25 (UUID-derived) root, unique per call within a process and across seeds.
inline std::string make_dicom_uid(uint64_t a, uint64_t b) {
    // 2.25.<decimal of a 128-bit number>: print two 64-bit halves as decimal, no leading zeros issue.
    std::string s = "2.25." + std::to_string(a % 9000000000000000000ull + 1000000000000000000ull) +
                    std::to_string(b % 10000000000000000000ull);
    if (s.size() > 64) s.resize(64);
    if (s.back() == '.') s.back() = '1';
    return s;
}

/// Write one CT image; `hu` has rows * cols values. Stored = round((HU - intercept) / slope), which must fit
/// BitsStored bits of the chosen signedness. The file appears atomically.
inline void write_dicom_slice(const std::string& path, const DicomWriteSpec& w, const float* hu) {
    detail::dicom_init_once();
    ICHSEG_CHECK(w.rows > 0 && w.cols > 0, path, ": write_dicom_slice: invalid size ", w.rows, "x", w.cols);
    DcmFileFormat ff;
    DcmDataset* ds = ff.getDataset();
    auto put = [&](const DcmTagKey& t, const std::string& v) {
        if (!v.empty()) {
            const OFCondition c = ds->putAndInsertString(t, v.c_str());
            if (c.bad()) fail(path, ": cannot set ", DcmTag(t).getTagName(), " = '", v, "': ", c.text());
        }
    };
    put(DCM_SOPClassUID, UID_CTImageStorage);
    put(DCM_SOPInstanceUID, w.sop_uid);
    put(DCM_Modality, w.modality);
    put(DCM_PatientID, w.patient_id);
    put(DCM_StudyInstanceUID, w.study_uid);
    put(DCM_SeriesInstanceUID, w.series_uid);
    put(DCM_StudyID, w.study_id);
    put(DCM_SeriesDescription, w.series_description);
    put(DCM_ImageType, w.image_type);
    put(DCM_ConvolutionKernel, w.convolution_kernel);
    put(DCM_ContrastBolusAgent, w.contrast_agent);
    if (w.instance_number >= 0) put(DCM_InstanceNumber, std::to_string(w.instance_number));
    if (w.write_geometry) {
        put(DCM_ImagePositionPatient, detail::join_ds(w.position.data(), 3));
        put(DCM_ImageOrientationPatient, detail::join_ds(w.orientation.data(), 6));
        put(DCM_PixelSpacing, detail::join_ds(w.pixel_spacing.data(), 2));
    }
    if (w.slice_thickness > 0) put(DCM_SliceThickness, detail::join_ds(&w.slice_thickness, 1));
    if (!w.window_center.empty()) put(DCM_WindowCenter, detail::join_ds(w.window_center.data(), w.window_center.size()));
    if (!w.window_width.empty()) put(DCM_WindowWidth, detail::join_ds(w.window_width.data(), w.window_width.size()));
    const int bits_stored = w.rsna_quirk ? 12 : w.bits_stored;
    const int pixrep = w.rsna_quirk ? 0 : w.pixel_representation;
    const double slope = w.rsna_quirk ? 1.0 : w.rescale_slope, inter = w.rsna_quirk ? 0.0 : w.rescale_intercept;
    ICHSEG_CHECK(bits_stored >= 8 && bits_stored <= 16, path, ": BitsStored ", bits_stored, " not in 8..16");
    if (w.write_rescale) {
        put(DCM_RescaleSlope, detail::join_ds(&slope, 1));
        put(DCM_RescaleIntercept, detail::join_ds(&inter, 1));
    }
    ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(w.rows));
    ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(w.cols));
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    put(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(bits_stored));
    ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(bits_stored - 1));
    ds->putAndInsertUint16(DCM_PixelRepresentation, static_cast<Uint16>(pixrep));
    if (w.write_pixel_data) {
        const int64_t n = static_cast<int64_t>(w.rows) * w.cols;
        std::vector<Uint16> px(static_cast<size_t>(n));
        const int64_t lo = pixrep ? -(int64_t(1) << (bits_stored - 1)) : 0;
        const int64_t hi = pixrep ? (int64_t(1) << (bits_stored - 1)) - 1 : (int64_t(1) << bits_stored) - 1;
        for (int64_t i = 0; i < n; ++i) {
            int64_t sv;
            if (w.rsna_quirk) {
                const int64_t st = std::llround(hu[i]) + 1000;  // true stored value with intercept -1000
                if (st < 0 || st > 4095)
                    fail(path, ": HU ", hu[i], " cannot be written with the RSNA 12-bit quirk (needs -1000..3095)");
                sv = (st - 1000 + 4096) % 4096;
            } else {
                sv = std::llround((static_cast<double>(hu[i]) - inter) / slope);
                if (sv < lo || sv > hi)
                    fail(path, ": HU ", hu[i], " gives stored value ", sv, " outside ", lo, "..", hi, " (BitsStored ",
                         bits_stored, pixrep ? ", signed)" : ", unsigned)");
            }
            px[static_cast<size_t>(i)] = static_cast<Uint16>(static_cast<uint64_t>(sv) & 0xFFFFu);
        }
        const int64_t count = w.pixel_count_override >= 0 ? std::min<int64_t>(w.pixel_count_override, n) : n;
        const OFCondition c = ds->putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(count));
        if (c.bad()) fail(path, ": cannot set PixelData: ", c.text());
    }
    const E_TransferSyntax xs = detail::to_dcmtk(w.transfer_syntax);
    if (w.write_pixel_data && DcmXfer(xs).isEncapsulated()) {
        OFCondition c;
        if (w.transfer_syntax == DicomTransferSyntax::jpeg_lossless) {
            DJ_RPLossless p;
            c = ds->chooseRepresentation(xs, &p);
        } else if (w.transfer_syntax == DicomTransferSyntax::jpegls_lossless) {
            DJLSRepresentationParameter p(2, OFTrue);
            c = ds->chooseRepresentation(xs, &p);
        } else {
            DcmRLERepresentationParameter p;
            c = ds->chooseRepresentation(xs, &p);
        }
        if (c.bad() || !ds->canWriteXfer(xs)) fail(path, ": cannot compress the pixel data: ", c.text());
    }
    static std::atomic<uint64_t> counter{0};
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    OFCondition c;
    if (w.write_meta_header) {
        c = ff.saveFile(tmp.c_str(), xs, EET_ExplicitLength, EGL_recalcGL, EPD_noChange);
    } else {
        c = ff.saveFile(tmp.c_str(), xs, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0, EWM_dataset);
    }
    if (c.bad()) {
        std::remove(tmp.c_str());
        fail(path, ": cannot write the DICOM file: ", c.text());
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        fail(path, ": cannot move the finished file into place: ", std::strerror(e));
    }
}

}  // namespace ichseg::io
