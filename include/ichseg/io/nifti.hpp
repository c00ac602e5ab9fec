/// @file nifti.hpp
/// @brief NIfTI-1 (.nii, .nii.gz, .hdr/.img) reading and writing through nifticlib (target ichseg::io).
///
/// Reading (`read_nifti`, `read_nifti_mask`, `read_nifti_header`):
///  * the 348-byte header is read first (gzip-aware, via znzlib) and validated with messages that name the file:
///    magic, sizeof_hdr (a byte-swapped 348 means a big-endian file, which is supported; 540 is NIfTI-2, which is
///    not), rank (3-D, or 4-D/5-D with singleton extra axes; a real 4-D series is refused), extents, datatype
///    (every integer and float type; RGB, complex and float128 are refused), vox_offset, and for uncompressed
///    files that the file holds all the voxel bytes (a truncated file is an error, never zero-filled);
///  * the voxels are then loaded by nifticlib (byte swapping, gzip), converted to float and scaled by
///    scl_slope / scl_inter when scl_slope is non-zero and finite (SPEC §1); non-finite voxels are an error;
///  * the affine is the sform when sform_code > 0 (sheared sforms, e.g. gantry tilt, are kept as they are),
///    else the qform when qform_code > 0, else NIfTI "method 1" (diagonal pixdim, recorded as a warning).
///    This is nibabel's `get_best_affine` order; only the code-0 fallback differs (nibabel uses an Analyze
///    affine with a flipped, centred x axis).
/// Writing (`write_nifti`): int16 (CT default), uint8 with intent LABEL (masks), or float32/64 and others;
/// optional scl_slope / scl_inter; the affine goes to the sform (code 1, SCANNER_ANAT) and also to the qform
/// when it is orthogonal (a sheared affine gets qform_code 0). The header stores the affine as float32: write
/// float-representable affines if you need an exact round trip. `.nii.gz` is chosen by the file name. The
/// file appears atomically (temporary name + rename) and is read back (header + size) before it is renamed.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

extern "C" {
#include <nifti1_io.h>
}
#include <zlib.h>

#include "ichseg/core/error.hpp"
#include "ichseg/io/log.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::io {

struct NiftiReadOptions {
    /// Refuse images whose voxel data would exceed this many bytes (a corrupt header must not exhaust memory).
    int64_t max_bytes = int64_t(4) << 30;
};

/// Storage type when writing.
enum class NiftiDtype { uint8, int8, int16, uint16, int32, float32, float64 };

struct NiftiWriteOptions {
    NiftiDtype dtype = NiftiDtype::int16;
    double scl_slope = 1.0;  ///< stored = round((value - scl_inter) / scl_slope) for integer types
    double scl_inter = 0.0;
    int intent_code = 0;     ///< NIFTI_INTENT_LABEL (1002) for masks
    std::string description; ///< descrip (at most 79 characters are kept)
};

/// Everything the header says, after validation.
struct NiftiHeaderInfo {
    std::string path;
    int64_t dim[8] = {0, 0, 0, 0, 0, 0, 0, 0};  ///< dim[0] = rank
    int datatype = 0;
    std::string datatype_name;
    int bitpix = 0;
    bool big_endian = false;
    bool compressed = false;
    double scl_slope = 0, scl_inter = 0;
    int qform_code = 0, sform_code = 0, intent_code = 0, xyzt_units = 0;
    double vox_offset = 0;
    float pixdim[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::string description;
    int64_t nx() const { return dim[1]; }
    int64_t ny() const { return dim[0] >= 2 ? dim[2] : 1; }
    int64_t nz() const { return dim[0] >= 3 ? dim[3] : 1; }
};

namespace detail {

inline void nifti_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { nifti_set_debug_level(0); });
}

inline bool ends_with(const std::string& s, const char* suffix) {
    const size_t n = std::strlen(suffix);
    if (s.size() < n) return false;
    for (size_t i = 0; i < n; ++i)
        if (std::tolower(static_cast<unsigned char>(s[s.size() - n + i])) != suffix[i]) return false;
    return true;
}

inline bool is_nifti_name(const std::string& p) {
    return ends_with(p, ".nii") || ends_with(p, ".nii.gz") || ends_with(p, ".hdr") || ends_with(p, ".hdr.gz") ||
           ends_with(p, ".img") || ends_with(p, ".img.gz");
}

/// Bytes per voxel of a supported NIfTI datatype; 0 when unsupported.
inline int nifti_supported_bytes(int dt) {
    switch (dt) {
        case NIFTI_TYPE_UINT8:
        case NIFTI_TYPE_INT8: return 1;
        case NIFTI_TYPE_INT16:
        case NIFTI_TYPE_UINT16: return 2;
        case NIFTI_TYPE_INT32:
        case NIFTI_TYPE_UINT32:
        case NIFTI_TYPE_FLOAT32: return 4;
        case NIFTI_TYPE_INT64:
        case NIFTI_TYPE_UINT64:
        case NIFTI_TYPE_FLOAT64: return 8;
        default: return 0;
    }
}

inline const char* nifti_type_name(int dt) {
    switch (dt) {
        case NIFTI_TYPE_UINT8: return "uint8";
        case NIFTI_TYPE_INT8: return "int8";
        case NIFTI_TYPE_INT16: return "int16";
        case NIFTI_TYPE_UINT16: return "uint16";
        case NIFTI_TYPE_INT32: return "int32";
        case NIFTI_TYPE_UINT32: return "uint32";
        case NIFTI_TYPE_INT64: return "int64";
        case NIFTI_TYPE_UINT64: return "uint64";
        case NIFTI_TYPE_FLOAT32: return "float32";
        case NIFTI_TYPE_FLOAT64: return "float64";
        case NIFTI_TYPE_RGB24: return "rgb24";
        case NIFTI_TYPE_RGBA32: return "rgba32";
        case NIFTI_TYPE_COMPLEX64: return "complex64";
        case NIFTI_TYPE_COMPLEX128: return "complex128";
        case NIFTI_TYPE_COMPLEX256: return "complex256";
        case NIFTI_TYPE_FLOAT128: return "float128";
        case DT_BINARY: return "binary (1 bit)";
        default: return "unknown";
    }
}

inline int64_t file_size_or_minus1(const std::string& p) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return -1;
    return static_cast<int64_t>(st.st_size);
}

inline bool is_directory(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

/// The data file of a header name (.hdr -> .img) or the file itself (.nii).
inline std::string nifti_data_file(const std::string& p) {
    if (ends_with(p, ".hdr")) return p.substr(0, p.size() - 4) + ".img";
    if (ends_with(p, ".hdr.gz")) return p.substr(0, p.size() - 7) + ".img.gz";
    return p;
}
inline std::string nifti_header_file(const std::string& p) {
    if (ends_with(p, ".img")) return p.substr(0, p.size() - 4) + ".hdr";
    if (ends_with(p, ".img.gz")) return p.substr(0, p.size() - 7) + ".hdr.gz";
    return p;
}

template <class T>
void swap_bytes(T& v) {
    unsigned char* b = reinterpret_cast<unsigned char*>(&v);
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
}

}  // namespace detail

/// Read and validate the header only (no voxel data). Throws ichseg::Error naming the file and the problem.
inline NiftiHeaderInfo read_nifti_header(const std::string& path_in, const NiftiReadOptions& opt = {}) {
    detail::nifti_init_once();
    const std::string path = detail::nifti_header_file(path_in);
    if (detail::is_directory(path)) fail(path, ": is a directory, not a NIfTI file");
    if (!detail::is_nifti_name(path))
        fail(path, ": not a NIfTI file name (expected .nii, .nii.gz, .hdr or .hdr.gz)");
    const int64_t fsize = detail::file_size_or_minus1(path);
    if (fsize < 0) fail(path, ": cannot open NIfTI file: ", std::strerror(errno));
    const bool gz = detail::ends_with(path, ".gz");
    znzFile fp = znzopen(path.c_str(), "rb", gz ? 1 : 0);
    if (znz_isnull(fp)) fail(path, ": cannot open NIfTI file");
    unsigned char raw[348];
    std::memset(raw, 0, sizeof raw);
    const size_t got = znzread(raw, 1, sizeof raw, fp);
    znzclose(fp);
    if (got < 4) fail(path, ": not a NIfTI file: only ", got, " bytes (a NIfTI-1 header has 348)");
    int32_t sizeof_hdr = 0;
    std::memcpy(&sizeof_hdr, raw, 4);
    bool swapped = false;
    if (sizeof_hdr != 348) {
        int32_t s = sizeof_hdr;
        detail::swap_bytes(s);
        if (s == 348) {
            swapped = true;
        } else if (sizeof_hdr == 540 || s == 540) {
            fail(path, ": NIfTI-2 file (sizeof_hdr 540): only NIfTI-1 is supported; convert it (e.g. nibabel) first");
        } else {
            fail(path, ": not a NIfTI-1 file: sizeof_hdr is ", sizeof_hdr, " (expected 348)",
                 gz ? "" : "; if it is gzip-compressed, name it .nii.gz");
        }
    }
    if (got < sizeof raw) fail(path, ": truncated NIfTI header: ", got, " of 348 bytes");
    nifti_1_header h;
    static_assert(sizeof(nifti_1_header) == 348, "nifti_1_header must be 348 bytes");
    std::memcpy(&h, raw, sizeof h);
    if (swapped) swap_nifti_header(&h, 1);

    const bool single = detail::ends_with(path, ".nii") || detail::ends_with(path, ".nii.gz");
    const char* want = single ? "n+1" : "ni1";
    if (std::memcmp(h.magic, want, 4) != 0) {
        char m[5] = {0, 0, 0, 0, 0};
        for (int i = 0; i < 4; ++i) m[i] = (h.magic[i] >= 32 && h.magic[i] < 127) ? h.magic[i] : '?';
        if (std::memcmp(h.magic, single ? "ni1" : "n+1", 4) == 0)
            fail(path, ": NIfTI magic '", m, "' does not match the file name (", single ? "a .nii" : "a .hdr/.img",
                 " file needs '", want, "')");
        fail(path, ": wrong NIfTI magic '", m, "' (expected '", want, "'; Analyze-7.5 files are not supported)");
    }

    NiftiHeaderInfo info;
    info.path = path;
    info.big_endian = swapped ? (nifti_short_order() == 1 /* LSB_FIRST */) : (nifti_short_order() == 2 /* MSB_FIRST */);
    info.compressed = gz;
    const int rank = h.dim[0];
    if (rank < 1 || rank > 7) fail(path, ": invalid NIfTI rank dim[0] = ", rank, " (must be 1..7)");
    info.dim[0] = rank;
    int64_t nvox = 1;
    for (int d = 1; d <= rank; ++d) {
        if (h.dim[d] < 1) fail(path, ": invalid NIfTI extent dim[", d, "] = ", h.dim[d], " (must be >= 1)");
        info.dim[d] = h.dim[d];
        nvox *= h.dim[d];  // at most 7 * 15 bits: no overflow of int64
    }
    for (int d = 4; d <= rank; ++d)
        if (h.dim[d] > 1)
            fail(path, ": ", rank, "-D NIfTI image (dim[", d, "] = ", h.dim[d],
                 "): a CT volume must be 3-D; split the series into 3-D volumes first");
    for (int d = rank + 1; d < 8; ++d) info.dim[d] = 1;
    info.datatype = h.datatype;
    info.datatype_name = detail::nifti_type_name(h.datatype);
    const int bytes = detail::nifti_supported_bytes(h.datatype);
    if (bytes == 0)
        fail(path, ": unsupported NIfTI datatype ", h.datatype, " (", info.datatype_name,
             "): CT volumes and masks must be integer or real scalars");
    info.bitpix = h.bitpix;
    if (h.bitpix != bytes * 8)
        fail(path, ": inconsistent NIfTI header: bitpix ", h.bitpix, " for datatype ", info.datatype_name, " (",
             bytes * 8, " bits)");
    const int64_t data_bytes = nvox * bytes;
    if (data_bytes > opt.max_bytes)
        fail(path, ": NIfTI image of ", data_bytes, " bytes exceeds the limit of ", opt.max_bytes, " bytes");
    info.vox_offset = h.vox_offset;
    if (single) {
        if (!std::isfinite(h.vox_offset) || h.vox_offset < 348 || h.vox_offset > 1e9)
            fail(path, ": invalid vox_offset ", h.vox_offset, " (must be >= 352 for a .nii file)");
        if (!gz) {
            const int64_t need = static_cast<int64_t>(h.vox_offset) + data_bytes;
            if (fsize < need)
                fail(path, ": truncated NIfTI file: ", fsize, " bytes, but the header needs ", need, " (",
                     info.nx(), "x", info.ny(), "x", info.nz(), " ", info.datatype_name, " at offset ",
                     static_cast<int64_t>(h.vox_offset), ")");
        }
    } else {
        const std::string img = detail::nifti_data_file(path);
        const int64_t isz = detail::file_size_or_minus1(img);
        if (isz < 0) fail(path, ": the image file ", img, " of this .hdr is missing");
        if (!detail::ends_with(img, ".gz") && isz < static_cast<int64_t>(std::max(0.f, h.vox_offset)) + data_bytes)
            fail(img, ": truncated NIfTI image file: ", isz, " bytes, need ",
                 static_cast<int64_t>(std::max(0.f, h.vox_offset)) + data_bytes);
    }
    info.scl_slope = h.scl_slope;
    info.scl_inter = h.scl_inter;
    if (!std::isfinite(h.scl_inter) && std::isfinite(h.scl_slope) && h.scl_slope != 0)
        fail(path, ": non-finite scl_inter ", h.scl_inter);
    info.qform_code = h.qform_code;
    info.sform_code = h.sform_code;
    info.intent_code = h.intent_code;
    info.xyzt_units = h.xyzt_units;
    for (int i = 0; i < 8; ++i) info.pixdim[i] = h.pixdim[i];
    for (int d = 1; d <= 3; ++d)
        if (!std::isfinite(h.pixdim[d])) fail(path, ": non-finite pixdim[", d, "] = ", h.pixdim[d]);
    if (h.sform_code > 0) {
        for (float v : h.srow_x) if (!std::isfinite(v)) fail(path, ": non-finite value in srow_x");
        for (float v : h.srow_y) if (!std::isfinite(v)) fail(path, ": non-finite value in srow_y");
        for (float v : h.srow_z) if (!std::isfinite(v)) fail(path, ": non-finite value in srow_z");
    }
    if (h.qform_code > 0) {
        const float q[7] = {h.quatern_b, h.quatern_c, h.quatern_d, h.qoffset_x, h.qoffset_y, h.qoffset_z, h.pixdim[0]};
        for (float v : q) if (!std::isfinite(v)) fail(path, ": non-finite quaternion / offset in the qform");
    }
    char d[81];
    std::memcpy(d, h.descrip, 80);
    d[80] = 0;
    info.description = d;
    return info;
}

namespace detail {

struct NiftiImageHolder {
    nifti_image* p = nullptr;
    ~NiftiImageHolder() {
        if (p) nifti_image_free(p);
    }
};

inline Affine mat44_to_affine(const mat44& m) {
    Affine a;
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) a(r, c) = static_cast<double>(m.m[r][c]);
    return a;
}

inline bool host_is_big_endian() {
    const uint16_t one = 1;
    unsigned char b;
    std::memcpy(&b, &one, 1);
    return b == 0;
}

/// Read the voxel bytes once through zlib (plain files too): every byte must be there and, for float types, every
/// value finite. nifticlib cannot be trusted with either: a short read of a .gz passes its size_t check, and it
/// replaces NaN / Inf floats by 0 without telling.
inline void verify_nifti_data(const NiftiHeaderInfo& info) {
    const std::string data = nifti_data_file(info.path);
    const int64_t offset = detail::ends_with(info.path, ".nii") || detail::ends_with(info.path, ".nii.gz")
                               ? static_cast<int64_t>(info.vox_offset)
                               : static_cast<int64_t>(std::max(0.0, info.vox_offset));
    const int esize = nifti_supported_bytes(info.datatype);
    const bool is_float = info.datatype == NIFTI_TYPE_FLOAT32 || info.datatype == NIFTI_TYPE_FLOAT64;
    const bool swap = info.big_endian != host_is_big_endian();
    const int64_t bytes = info.nx() * info.ny() * info.nz() * esize;
    gzFile g = gzopen(data.c_str(), "rb");
    if (!g) fail(data, ": cannot open the voxel data");
    gzbuffer(g, 1 << 17);
    std::vector<unsigned char> buf(1 << 16);
    int64_t skip = offset;
    bool bad_stream = false;
    while (skip > 0) {
        const int n = gzread(g, buf.data(), static_cast<unsigned>(std::min<int64_t>(skip, static_cast<int64_t>(buf.size()))));
        if (n <= 0) {
            bad_stream = n < 0;
            break;
        }
        skip -= n;
    }
    int64_t left = bytes, nonfinite = 0;
    if (skip == 0) {
        while (left > 0) {
            const int n = gzread(g, buf.data(), static_cast<unsigned>(std::min<int64_t>(left, static_cast<int64_t>(buf.size()))));
            if (n <= 0) {
                bad_stream = n < 0;
                break;
            }
            if (is_float) {
                const int es = esize == 8 ? 8 : 4;
                for (int i = 0; i + es <= n; i += es) {
                    unsigned char e[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                    for (int b = 0; b < es; ++b) e[b] = buf[static_cast<size_t>(i + (swap ? es - 1 - b : b))];
                    double v;
                    if (es == 4) {
                        float f;
                        std::memcpy(&f, e, 4);
                        v = f;
                    } else {
                        std::memcpy(&v, e, 8);
                    }
                    if (!std::isfinite(v)) ++nonfinite;
                }
            }
            left -= n;
        }
    }
    gzclose(g);
    if (bad_stream) fail(data, ": corrupt gzip stream (zlib could not decompress the voxel data)");
    if (left > 0)
        fail(data, ": truncated NIfTI voxel data: ", bytes - left, " of ", bytes, " bytes present (", info.nx(), "x",
             info.ny(), "x", info.nz(), " ", info.datatype_name, ")");
    if (nonfinite > 0) fail(data, ": ", nonfinite, " voxels are NaN or infinite");
}

/// Load voxels as double-precision values (before scaling) into `out` (nz*ny*nx floats), returns affine etc.
template <class T>
Image3D<T> nifti_load(const std::string& path_in, const NiftiReadOptions& opt, bool scale, NiftiHeaderInfo* hinfo) {
    const NiftiHeaderInfo info = read_nifti_header(path_in, opt);
    if (hinfo) *hinfo = info;
    const std::string& path = info.path;
    const bool compressed_data = ends_with(nifti_data_file(path), ".gz");
    if (compressed_data || info.datatype == NIFTI_TYPE_FLOAT32 || info.datatype == NIFTI_TYPE_FLOAT64)
        verify_nifti_data(info);
    NiftiImageHolder nim;
    nim.p = nifti_image_read(path.c_str(), 1);
    if (!nim.p || !nim.p->data)
        fail(path, ": nifticlib could not read the voxel data (truncated or corrupt ",
             info.compressed ? "gzip stream" : "file", ")");
    const int64_t nx = info.nx(), ny = info.ny(), nz = info.nz();
    const int64_t n = nx * ny * nz;
    if (static_cast<int64_t>(nim.p->nvox) != n)
        fail(path, ": nifticlib reports ", nim.p->nvox, " voxels, the header ", n);
    Image3D<T> img;
    img.voxels = Tensor<T>::empty({nz, ny, nx});
    T* out = img.voxels.data();
    double slope = 1.0, inter = 0.0;
    const bool use_scale = scale && std::isfinite(info.scl_slope) && info.scl_slope != 0.0;
    if (use_scale) {
        slope = info.scl_slope;
        inter = info.scl_inter;
    }
    int64_t nonfinite = 0;
    auto convert = [&](auto* src) {
        for (int64_t i = 0; i < n; ++i) {
            const double v = static_cast<double>(src[i]) * slope + inter;
            if (!std::isfinite(v)) {
                ++nonfinite;
                out[i] = T(0);
            } else if constexpr (std::is_same_v<T, uint8_t>) {
                out[i] = v > 0 ? 1 : 0;
            } else {
                out[i] = static_cast<T>(v);
            }
        }
    };
    switch (info.datatype) {
        case NIFTI_TYPE_UINT8: convert(static_cast<const uint8_t*>(nim.p->data)); break;
        case NIFTI_TYPE_INT8: convert(static_cast<const int8_t*>(nim.p->data)); break;
        case NIFTI_TYPE_INT16: convert(static_cast<const int16_t*>(nim.p->data)); break;
        case NIFTI_TYPE_UINT16: convert(static_cast<const uint16_t*>(nim.p->data)); break;
        case NIFTI_TYPE_INT32: convert(static_cast<const int32_t*>(nim.p->data)); break;
        case NIFTI_TYPE_UINT32: convert(static_cast<const uint32_t*>(nim.p->data)); break;
        case NIFTI_TYPE_INT64: convert(static_cast<const int64_t*>(nim.p->data)); break;
        case NIFTI_TYPE_UINT64: convert(static_cast<const uint64_t*>(nim.p->data)); break;
        case NIFTI_TYPE_FLOAT32: convert(static_cast<const float*>(nim.p->data)); break;
        case NIFTI_TYPE_FLOAT64: convert(static_cast<const double*>(nim.p->data)); break;
        default: fail(path, ": unsupported NIfTI datatype ", info.datatype);
    }
    if (nonfinite > 0) fail(path, ": ", nonfinite, " voxels are NaN or infinite");
    img.source.path = path;
    img.source.format = "nifti";
    img.source.stored_type = info.datatype_name;
    if (info.sform_code > 0) {
        img.affine = mat44_to_affine(nim.p->sto_xyz);
    } else if (info.qform_code > 0) {
        img.affine = mat44_to_affine(nim.p->qto_xyz);
    } else {
        const double sx = info.pixdim[1] > 0 ? info.pixdim[1] : 1.0, sy = info.pixdim[2] > 0 ? info.pixdim[2] : 1.0,
                     sz = info.pixdim[3] > 0 ? info.pixdim[3] : 1.0;
        img.affine = Affine::diagonal(sx, sy, sz);
        img.source.warnings.push_back("no sform or qform (both codes 0): affine from pixdim only, orientation unknown");
    }
    if (std::fabs(img.affine.det3()) < 1e-12) fail(path, ": singular affine (zero voxel size or degenerate axes)");
    img.spacing = img.affine.spacing();
    for (const auto& w : img.source.warnings) log(LogLevel::info, path, ": ", w);
    return img;
}

}  // namespace detail

/// A CT volume in HU (float), scl_slope/scl_inter applied. `header` receives the header fields when given.
inline Volume read_nifti(const std::string& path, const NiftiReadOptions& opt = {}, NiftiHeaderInfo* header = nullptr) {
    return detail::nifti_load<float>(path, opt, true, header);
}

/// A label mask: any voxel > 0 (after scaling) becomes 1, others 0.
inline Mask read_nifti_mask(const std::string& path, const NiftiReadOptions& opt = {},
                            NiftiHeaderInfo* header = nullptr) {
    return detail::nifti_load<uint8_t>(path, opt, true, header);
}

namespace detail {

inline int nifti_code(NiftiDtype d) {
    switch (d) {
        case NiftiDtype::uint8: return NIFTI_TYPE_UINT8;
        case NiftiDtype::int8: return NIFTI_TYPE_INT8;
        case NiftiDtype::int16: return NIFTI_TYPE_INT16;
        case NiftiDtype::uint16: return NIFTI_TYPE_UINT16;
        case NiftiDtype::int32: return NIFTI_TYPE_INT32;
        case NiftiDtype::float32: return NIFTI_TYPE_FLOAT32;
        default: return NIFTI_TYPE_FLOAT64;
    }
}

template <class D, class S>
void store_values(D* dst, const S* src, int64_t n, double slope, double inter, const std::string& path) {
    constexpr bool is_int = std::is_integral_v<D>;
    for (int64_t i = 0; i < n; ++i) {
        double v = static_cast<double>(src[i]);
        if (!std::isfinite(v)) fail(path, ": cannot write a non-finite voxel value (index ", i, ")");
        if constexpr (is_int) {
            v = std::nearbyint((v - inter) / slope);
            if (v < static_cast<double>(std::numeric_limits<D>::min()) ||
                v > static_cast<double>(std::numeric_limits<D>::max()))
                fail(path, ": value ", static_cast<double>(src[i]), " at voxel ", i, " does not fit the ",
                     sizeof(D) * 8, "-bit storage type with scl_slope ", slope, ", scl_inter ", inter);
            dst[i] = static_cast<D>(v);
        } else {
            dst[i] = static_cast<D>((v - inter) / slope);
        }
    }
}

template <class T>
void write_nifti_impl(const std::string& path, const Image3D<T>& img, const NiftiWriteOptions& opt) {
    nifti_init_once();
    ICHSEG_CHECK(img.voxels.defined() && img.voxels.dim() == 3, path, ": write_nifti needs a 3-D image");
    if (!(ends_with(path, ".nii") || ends_with(path, ".nii.gz")))
        fail(path, ": write_nifti writes single-file NIfTI: the name must end in .nii or .nii.gz");
    {
        const size_t sl = path.find_last_of('/');
        const std::string parent = sl == std::string::npos ? std::string(".") : (sl == 0 ? std::string("/") : path.substr(0, sl));
        if (!is_directory(parent)) fail(path, ": the folder ", parent, " does not exist");
    }
    ICHSEG_CHECK(std::isfinite(opt.scl_slope) && opt.scl_slope != 0 && std::isfinite(opt.scl_inter), path,
                 ": invalid scl_slope ", opt.scl_slope, " / scl_inter ", opt.scl_inter);
    const Tensor<T> vox = img.voxels.contiguous();
    const int64_t nz = vox.size(0), ny = vox.size(1), nx = vox.size(2);
    ICHSEG_CHECK(nx >= 1 && ny >= 1 && nz >= 1 && nx <= 32767 && ny <= 32767 && nz <= 32767, path,
                 ": extents (", nx, ", ", ny, ", ", nz, ") outside NIfTI-1's 1..32767");
    for (double v : img.affine.m)
        ICHSEG_CHECK(std::isfinite(v), path, ": non-finite affine entry");
    ICHSEG_CHECK(std::fabs(img.affine.det3()) > 1e-12, path, ": singular affine");
    int dims[8] = {3, static_cast<int>(nx), static_cast<int>(ny), static_cast<int>(nz), 1, 1, 1, 1};
    NiftiImageHolder nim;
    nim.p = nifti_make_new_nim(dims, nifti_code(opt.dtype), 1);
    if (!nim.p) fail(path, ": nifticlib could not allocate the image");
    const int64_t n = nx * ny * nz;
    const double slope = opt.scl_slope, inter = opt.scl_inter;
    switch (opt.dtype) {
        case NiftiDtype::uint8: store_values(static_cast<uint8_t*>(nim.p->data), vox.data(), n, slope, inter, path); break;
        case NiftiDtype::int8: store_values(static_cast<int8_t*>(nim.p->data), vox.data(), n, slope, inter, path); break;
        case NiftiDtype::int16: store_values(static_cast<int16_t*>(nim.p->data), vox.data(), n, slope, inter, path); break;
        case NiftiDtype::uint16: store_values(static_cast<uint16_t*>(nim.p->data), vox.data(), n, slope, inter, path); break;
        case NiftiDtype::int32: store_values(static_cast<int32_t*>(nim.p->data), vox.data(), n, slope, inter, path); break;
        case NiftiDtype::float32: store_values(static_cast<float*>(nim.p->data), vox.data(), n, slope, inter, path); break;
        case NiftiDtype::float64: store_values(static_cast<double*>(nim.p->data), vox.data(), n, slope, inter, path); break;
    }
    nim.p->scl_slope = static_cast<float>(slope);
    nim.p->scl_inter = static_cast<float>(inter);
    const Affine& a = img.affine;
    mat44 m;
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) m.m[r][c] = static_cast<float>(a(r, c));
    nim.p->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    nim.p->sto_xyz = m;
    nim.p->sto_ijk = nifti_mat44_inverse(m);
    const std::array<double, 3> sp = a.spacing();
    nim.p->dx = nim.p->pixdim[1] = static_cast<float>(sp[0]);
    nim.p->dy = nim.p->pixdim[2] = static_cast<float>(sp[1]);
    nim.p->dz = nim.p->pixdim[3] = static_cast<float>(sp[2]);
    if (a.is_orthogonal(1e-5)) {
        float qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac;
        nifti_mat44_to_quatern(m, &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
        nim.p->quatern_b = qb;
        nim.p->quatern_c = qc;
        nim.p->quatern_d = qd;
        nim.p->qoffset_x = qx;
        nim.p->qoffset_y = qy;
        nim.p->qoffset_z = qz;
        nim.p->qfac = qfac;
        nim.p->pixdim[0] = qfac;
        nim.p->qform_code = NIFTI_XFORM_SCANNER_ANAT;
        nim.p->qto_xyz = nifti_quatern_to_mat44(qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac);
        nim.p->qto_ijk = nifti_mat44_inverse(nim.p->qto_xyz);
    } else {
        nim.p->qform_code = NIFTI_XFORM_UNKNOWN;
    }
    nim.p->xyz_units = NIFTI_UNITS_MM;
    nim.p->time_units = NIFTI_UNITS_SEC;
    nim.p->intent_code = opt.intent_code;
    std::memset(nim.p->descrip, 0, sizeof nim.p->descrip);
    std::strncpy(nim.p->descrip, opt.description.c_str(), sizeof nim.p->descrip - 1);

    // Temporary name in the same folder, same extension, then rename.
    static std::atomic<uint64_t> counter{0};
    const size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
    const std::string ext = ends_with(path, ".nii.gz") ? ".nii.gz" : ".nii";
    const std::string tmp = dir + ".ichseg-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ext;
    if (nifti_set_filenames(nim.p, tmp.c_str(), 0, 1) != 0) fail(path, ": nifticlib rejected the file name");
    nifti_image_write(nim.p);  // returns nothing: verify below
    try {
        const NiftiHeaderInfo back = read_nifti_header(tmp);
        if (back.nx() != nx || back.ny() != ny || back.nz() != nz || back.datatype != nifti_code(opt.dtype))
            fail(path, ": the written header does not read back as written");
    } catch (const Error& e) {
        std::remove(tmp.c_str());
        fail(path, ": writing failed (", e.what(), ")");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        fail(path, ": cannot move the finished file into place: ", std::strerror(e));
    }
}

}  // namespace detail

/// Write a CT volume (default int16, values rounded; must fit the storage type).
inline void write_nifti(const std::string& path, const Volume& v, const NiftiWriteOptions& opt = {}) {
    detail::write_nifti_impl(path, v, opt);
}

/// Write a mask as uint8 0/1 with intent LABEL.
inline void write_nifti(const std::string& path, const Mask& m) {
    NiftiWriteOptions opt;
    opt.dtype = NiftiDtype::uint8;
    opt.intent_code = NIFTI_INTENT_LABEL;
    detail::write_nifti_impl(path, m, opt);
}
/// Write a mask with explicit options (e.g. another storage type).
inline void write_nifti(const std::string& path, const Mask& m, const NiftiWriteOptions& opt) {
    detail::write_nifti_impl(path, m, opt);
}

}  // namespace ichseg::io
