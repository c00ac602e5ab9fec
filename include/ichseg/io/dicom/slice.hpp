/// @file dicom/slice.hpp
/// @brief One DICOM image: its header (`DicomHeader`, `read_dicom_header`) and its pixels in Hounsfield units
/// (`read_dicom_slice`), plus `dicom_slice_to_volume` for a single image.
///
/// Reading one image (`read_dicom_slice`):
///  * the file is parsed with or without the 128-byte preamble; encapsulated pixel data is decoded by the codecs
///    registered with DCMTK (dicom/dcmtk.hpp): DCMTK's JPEG baseline/extended/lossless, JPEG-LS and RLE, and
///    ichseg's JPEG 2000 decoder through OpenJPEG (dicom/jpeg2000.hpp). docs/data.md §2.2 lists every transfer
///    syntax and what happens to it;
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
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/dicom/dcmtk.hpp"
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
    std::string body_part, study_description, protocol_name;  ///< BodyPartExamined, StudyDescription, ProtocolName
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
    h.body_part = get_string(ds, DCM_BodyPartExamined);
    h.study_description = get_string(ds, DCM_StudyDescription);
    h.protocol_name = get_string(ds, DCM_ProtocolName);
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
    const std::string unsupported = unsupported_transfer_syntax(h.transfer_syntax_uid);
    if (!unsupported.empty()) fail(p, ": ", unsupported);
    if (!h.has_pixel_data) fail(p, ": no PixelData element (header-only or corrupt file)");
}

/// Decode (if needed) and convert the pixel data of a loaded dataset to HU.
inline void decode_hu(DcmFileFormat& ff, DicomSlice& s, const DicomReadOptions& opt) {
    DicomHeader& h = s.header;
    const std::string& p = h.path;
    DcmDataset* ds = ff.getDataset();
    const E_TransferSyntax xs = ds->getOriginalXfer();
    const DcmXfer xfer(xs);
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
    v.source.body_part = h.body_part;
    v.source.study_description = h.study_description;
    v.source.protocol_name = h.protocol_name;
    v.source.files = {h.path};
    v.source.warnings = s.warnings;
    if (!h.has_position || !h.has_orientation) v.source.warnings.push_back("no ImagePositionPatient/ImageOrientationPatient: affine is a placeholder");
    if (!h.has_pixel_spacing) v.source.warnings.push_back("no PixelSpacing: 1 mm assumed");
    return v;
}

}  // namespace ichseg::io
