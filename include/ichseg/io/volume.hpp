/// @file volume.hpp
/// @brief `io::Volume` (CT in Hounsfield units) and `io::Mask` (0/1 labels): a voxel grid, its affine and
/// where it came from. No NIfTI or DICOM dependency; readers and writers live in nifti.hpp / dicom.hpp.
///
/// Conventions (the whole data layer follows them):
///  * Voxels are a contiguous `Tensor<T>` of shape **(nz, ny, nx)**, x fastest. Element `voxels(k, j, i)` is
///    NIfTI voxel (i, j, k) (the on-disk order of a NIfTI file, nibabel's `arr[i, j, k]`), and for DICOM it is
///    slice k (sorted along the slice normal), row j, column i. `slice(k)` is therefore one stored axial image of
///    ny rows by nx columns, exactly as stored: no flip, no rot90.
///  * `affine` maps (i, j, k, 1) to world millimetres in the NIfTI RAS+ convention (x = Right, y = Anterior,
///    z = Superior increasing). DICOM's LPS+ patient coordinates are converted on reading (x and y negated).
///    It may be sheared (gantry tilt); it is used for display orientation and for writing, never to resample.
///  * `spacing` is the voxel size in mm along i, j, k (the affine's column norms).
///  * Computation keeps the stored voxel order. `display_transform()` says how to flip / transpose a slice so that
///    anterior is at the top and patient-left on the right (radiological view), derived from the affine only.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/core/tensor.hpp"

namespace ichseg::io {

/// A 4x4 affine (row-major), voxel index -> world mm.
struct Affine {
    std::array<double, 16> m{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};

    static Affine identity() { return Affine{}; }
    static Affine diagonal(double sx, double sy, double sz) {
        Affine a;
        a(0, 0) = sx;
        a(1, 1) = sy;
        a(2, 2) = sz;
        return a;
    }
    double& operator()(int r, int c) { return m[static_cast<size_t>(r * 4 + c)]; }
    double operator()(int r, int c) const { return m[static_cast<size_t>(r * 4 + c)]; }

    /// World position of voxel (i, j, k) (fractional indices allowed).
    std::array<double, 3> apply(double i, double j, double k) const {
        const Affine& a = *this;
        return {a(0, 0) * i + a(0, 1) * j + a(0, 2) * k + a(0, 3), a(1, 0) * i + a(1, 1) * j + a(1, 2) * k + a(1, 3),
                a(2, 0) * i + a(2, 1) * j + a(2, 2) * k + a(2, 3)};
    }
    /// Length of column c (voxel size along index axis c).
    double column_norm(int c) const {
        const Affine& a = *this;
        return std::sqrt(a(0, c) * a(0, c) + a(1, c) * a(1, c) + a(2, c) * a(2, c));
    }
    std::array<double, 3> spacing() const { return {column_norm(0), column_norm(1), column_norm(2)}; }
    /// Largest |cos| between two distinct columns: 0 for an orthogonal affine, > 0 when sheared.
    double max_shear() const {
        double worst = 0;
        for (int a = 0; a < 3; ++a)
            for (int b = a + 1; b < 3; ++b) {
                const Affine& x = *this;
                const double na = column_norm(a), nb = column_norm(b);
                if (na == 0 || nb == 0) return 1.0;
                const double d = x(0, a) * x(0, b) + x(1, a) * x(1, b) + x(2, a) * x(2, b);
                worst = std::max(worst, std::fabs(d / (na * nb)));
            }
        return worst;
    }
    bool is_orthogonal(double tol = 1e-4) const { return max_shear() <= tol; }
    /// Determinant of the upper 3x3 block.
    double det3() const {
        const Affine& a = *this;
        return a(0, 0) * (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1)) - a(0, 1) * (a(1, 0) * a(2, 2) - a(1, 2) * a(2, 0)) +
               a(0, 2) * (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0));
    }
    bool operator==(const Affine& o) const { return m == o.m; }
    bool operator!=(const Affine& o) const { return m != o.m; }
};

/// Max |a - b| over the 16 entries.
inline double max_abs_diff(const Affine& a, const Affine& b) {
    double d = 0;
    for (size_t i = 0; i < 16; ++i) d = std::max(d, std::fabs(a.m[i] - b.m[i]));
    return d;
}

/// Orientation letter (R/L, A/P, S/I) of the world direction that index axis c points to most (nibabel's
/// aff2axcodes): e.g. "RAS" or "LPS".
inline std::string axis_codes(const Affine& a) {
    std::string s;
    for (int c = 0; c < 3; ++c) {
        int best = 0;
        double bv = 0;
        for (int r = 0; r < 3; ++r)
            if (std::fabs(a(r, c)) > std::fabs(bv)) {
                bv = a(r, c);
                best = r;
            }
        static const char pos[3] = {'R', 'A', 'S'}, neg[3] = {'L', 'P', 'I'};
        s.push_back(bv >= 0 ? pos[best] : neg[best]);
    }
    return s;
}

/// How to show an axial slice (ny rows by nx columns, as stored) with anterior at the top and patient-left on
/// the viewer's right (radiological convention). Apply in this order: transpose (rows <-> columns), then
/// flip_rows (top <-> bottom), then flip_cols (left <-> right). Display only; never used in training.
struct DisplayTransform {
    bool transpose = false;
    bool flip_rows = false;
    bool flip_cols = false;
};

inline DisplayTransform display_transform(const Affine& a) {
    // Which index axis (0 = i / columns, 1 = j / rows) is most anterior-posterior?
    const double ai = std::fabs(a(1, 0)), aj = std::fabs(a(1, 1));
    DisplayTransform t;
    t.transpose = ai > aj;  // anterior runs along i: make it run along rows
    const int row_axis = t.transpose ? 0 : 1, col_axis = t.transpose ? 1 : 0;
    // Top of the display is row 0: anterior must decrease with the row index -> flip if y grows with it.
    t.flip_rows = a(1, row_axis) > 0;
    // Right of the display is the last column: patient left (x decreasing in RAS) there -> flip if x grows.
    t.flip_cols = a(0, col_axis) > 0;
    return t;
}

/// Where a volume came from: for messages, reports and the inspect tool.
struct Provenance {
    std::string path;                ///< file (NIfTI, one DICOM) or folder (DICOM series)
    std::string format;              ///< "nifti" | "dicom"
    std::string stored_type;         ///< datatype on disk, e.g. "int16", "uint8", "float32"
    std::string modality;            ///< DICOM Modality ("CT"); empty for NIfTI
    std::string patient_id, study_uid, series_uid, series_description;
    std::string body_part, study_description, protocol_name;  ///< DICOM BodyPartExamined, StudyDescription, ProtocolName
    std::vector<std::string> files;  ///< DICOM files in slice order (series only)
    std::vector<std::string> warnings;  ///< non-fatal problems found while reading (each also logged)
};

/// A 3-D image: voxels (nz, ny, nx), affine, spacing, provenance.
template <class T>
struct Image3D {
    Tensor<T> voxels;
    Affine affine;
    std::array<double, 3> spacing{1, 1, 1};  ///< mm along i, j, k
    Provenance source;

    int64_t nx() const { return voxels.defined() ? voxels.size(2) : 0; }
    int64_t ny() const { return voxels.defined() ? voxels.size(1) : 0; }
    int64_t nz() const { return voxels.defined() ? voxels.size(0) : 0; }
    int64_t slice_size() const { return nx() * ny(); }
    /// Pointer to slice k (ny * nx values, row-major).
    T* slice(int64_t k) {
        ICHSEG_CHECK(k >= 0 && k < nz(), "Image3D::slice: index ", k, " out of range [0, ", nz(), ")");
        return voxels.data() + k * slice_size();
    }
    const T* slice(int64_t k) const { return const_cast<Image3D*>(this)->slice(k); }
    /// Allocate (nz, ny, nx) zero voxels with a diagonal affine of the given spacing.
    static Image3D zeros(int64_t nz, int64_t ny, int64_t nx, std::array<double, 3> sp = {1, 1, 1}) {
        Image3D v;
        v.voxels = Tensor<T>::zeros({nz, ny, nx});
        v.spacing = sp;
        v.affine = Affine::diagonal(sp[0], sp[1], sp[2]);
        return v;
    }
    /// Same grid, affine and provenance, new voxel type, zero-filled.
    template <class U>
    Image3D<U> like() const {
        Image3D<U> o;
        o.voxels = Tensor<U>::zeros(voxels.shape());
        o.affine = affine;
        o.spacing = spacing;
        o.source = source;
        return o;
    }
};

using Volume = Image3D<float>;  ///< CT in Hounsfield units
using Mask = Image3D<uint8_t>;  ///< binary label (any value > 0 is foreground; readers store 0/1)

/// Error unless the two grids have the same shape (names both files).
template <class A, class B>
void check_same_grid(const Image3D<A>& a, const Image3D<B>& b, const std::string& what) {
    if (a.voxels.shape() != b.voxels.shape())
        fail(b.source.path, ": ", what, " shape (nx, ny, nz) = (", b.nx(), ", ", b.ny(), ", ", b.nz(),
             ") does not match the CT ", a.source.path, " (", a.nx(), ", ", a.ny(), ", ", a.nz(), ")");
}

struct HuStats {
    double min = 0, max = 0, mean = 0;
    int64_t count = 0;
};
inline HuStats hu_stats(const Volume& v) {
    HuStats s;
    const int64_t n = v.voxels.numel();
    if (n == 0) return s;
    const float* p = v.voxels.data();
    double lo = p[0], hi = p[0], sum = 0;
    for (int64_t i = 0; i < n; ++i) {
        lo = std::min<double>(lo, p[i]);
        hi = std::max<double>(hi, p[i]);
        sum += p[i];
    }
    s.min = lo;
    s.max = hi;
    s.mean = sum / static_cast<double>(n);
    s.count = n;
    return s;
}

}  // namespace ichseg::io
