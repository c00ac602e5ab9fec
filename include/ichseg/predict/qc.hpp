/// @file qc.hpp (predict)
/// @brief The QC montage of a segmentation (`ichseg_predict --qc`): one PNG with the slices that hold predicted
/// hemorrhage, each in the brain window (0-80 HU, grey) with the mask's outline drawn over it, the slice number,
/// its height and its hemorrhage volume above the tile, and a caption with the case, the total volume, the slices
/// involved, the largest axial extent and any warning (e.g. the input does not look like a head CT). When nothing
/// is predicted, six evenly spaced slices are shown with "no hemorrhage predicted", so a missed bleed can still be
/// seen. Slices are shown in radiological convention (anterior up, patient left on the right of the image, from
/// the affine: io::display_transform) with their physical aspect ratio. Rendering only (render/canvas, font);
/// `qc_png` returns the PNG bytes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ichseg/io/volume.hpp"
#include "ichseg/predict/report.hpp"
#include "ichseg/render/canvas.hpp"
#include "ichseg/render/png.hpp"

namespace ichseg::predict {

struct QcOptions {
    int tile = 256;          ///< longer side of a slice tile (pixels)
    int max_tiles = 24;      ///< more slices with hemorrhage: evenly spaced among them
    int columns = 0;         ///< 0: up to 6
    double window_lo = 0, window_hi = 80;  ///< HU shown black .. white (the brain window)
    render::Color outline = render::Color{255, 40, 40};
};

/// The slices a montage shows: those with mask voxels (evenly thinned to `max_tiles`), or, when there are none,
/// six evenly spaced slices.
inline std::vector<int64_t> qc_slices(const Report& r, int max_tiles, bool& any) {
    std::vector<int64_t> with;
    for (const auto& s : r.slices)
        if (s.voxels > 0) with.push_back(s.index);
    any = !with.empty();
    if (!any) {
        const int64_t nz = r.nz, n = std::min<int64_t>(6, nz);
        for (int64_t i = 0; i < n; ++i) with.push_back(n == 1 ? 0 : (i * (nz - 1)) / (n - 1));
        return with;
    }
    if (static_cast<int64_t>(with.size()) <= max_tiles) return with;
    std::vector<int64_t> out;
    const int64_t m = static_cast<int64_t>(with.size());
    for (int64_t i = 0; i < max_tiles; ++i) out.push_back(with[static_cast<size_t>((i * (m - 1)) / (max_tiles - 1))]);
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

/// Render the montage (see the file comment). `title`: first caption line (case and model); `warnings`: lines
/// shown in red under the caption.
inline render::Image qc_montage(const io::Volume& ct, const io::Mask& mask, const Report& r, const std::string& title,
                                const std::vector<std::string>& warnings, const QcOptions& o = {}) {
    ICHSEG_CHECK(ct.nz() == mask.nz() && ct.ny() == mask.ny() && ct.nx() == mask.nx(),
                 "qc_montage: the mask does not match the CT");
    ICHSEG_CHECK(o.tile >= 32 && o.tile <= 2048, "qc_montage: tile size ", o.tile, " outside 32..2048");
    bool any = false;
    const std::vector<int64_t> ks = qc_slices(r, std::max(1, o.max_tiles), any);
    const io::DisplayTransform dt = io::display_transform(ct.affine);
    const int64_t nx = ct.nx(), ny = ct.ny();
    const int64_t drows = dt.transpose ? nx : ny, dcols = dt.transpose ? ny : nx;
    const double prow = dt.transpose ? ct.affine.column_norm(0) : ct.affine.column_norm(1);
    const double pcol = dt.transpose ? ct.affine.column_norm(1) : ct.affine.column_norm(0);
    const double hmm = static_cast<double>(drows) * prow, wmm = static_cast<double>(dcols) * pcol;
    const double scale = o.tile / std::max(hmm, wmm);  // display pixels per mm
    const int tw = std::max(1, static_cast<int>(std::lround(wmm * scale)));
    const int th = std::max(1, static_cast<int>(std::lround(hmm * scale)));
    const int cols = o.columns > 0 ? o.columns : static_cast<int>(std::min<size_t>(6, ks.size()));
    const int rows = static_cast<int>((ks.size() + static_cast<size_t>(cols) - 1) / static_cast<size_t>(cols));
    const int gap = 4, label_h = 18, text = 11;
    const int W = std::max(cols * (tw + gap) + gap, 520);
    // caption lines, wrapped to the width: title, summary, legend, warnings
    char buf[256];
    std::snprintf(buf, sizeof buf, "hemorrhage %.2f mL on %lld slice(s), largest axial extent %.1f mm%s", r.volume_ml,
                  static_cast<long long>(r.slices_involved), r.largest_axial_extent_mm,
                  any ? "" : " -- no hemorrhage predicted; evenly spaced slices shown");
    const std::string summary = buf;
    std::snprintf(buf, sizeof buf, "window %.0f..%.0f HU; red outline = predicted hemorrhage; anterior up, patient left on the right",
                  o.window_lo, o.window_hi);
    const std::string legend = buf;
    struct Line {
        std::string text;
        int kind;  // 0 caption, 1 legend, 2 warning
    };
    std::vector<Line> lines;
    const double cap_size = text + 2;
    const size_t per_line = static_cast<size_t>(std::max(20.0, (W - 2.0 * gap) / (cap_size * 6.0 / 7.0)));
    auto add_wrapped = [&](const std::string& t, int kind) {
        std::string rest = t;
        while (rest.size() > per_line) {
            size_t cut = rest.rfind(' ', per_line);
            if (cut == std::string::npos || cut < per_line / 2) cut = per_line;
            lines.push_back({rest.substr(0, cut), kind});
            rest = rest.substr(std::min(rest.size(), cut + (rest[cut] == ' ' ? 1 : 0)));
        }
        if (!rest.empty()) lines.push_back({rest, kind});
    };
    add_wrapped(title, 0);
    add_wrapped(summary, 0);
    add_wrapped(legend, 1);
    for (const auto& w : warnings) add_wrapped(w, 2);
    const int header = 10 + static_cast<int>(lines.size()) * 18;
    const int H = header + rows * (th + label_h + gap) + gap;
    render::Canvas cv(W, H, render::Color{16, 16, 16});
    render::TextStyle cap;
    cap.size = cap_size;
    cap.color = render::colors::white;
    cap.valign = render::VAlign::top;
    for (size_t i = 0; i < lines.size(); ++i) {
        render::TextStyle st = cap;
        if (lines[i].kind == 1) {
            st.size = text;
            st.color = render::colors::light_grey;
        }
        if (lines[i].kind == 2) st.color = render::Color{255, 90, 90};
        cv.text(gap + 2, 6 + 18 * static_cast<double>(i), lines[i].text, st);
    }

    // display pixel (row u, column v) of the tile -> stored (j, i)
    auto stored = [&](double u, double v, int64_t& j, int64_t& i) {
        int64_t r0 = std::clamp<int64_t>(static_cast<int64_t>(u), 0, drows - 1);
        int64_t c0 = std::clamp<int64_t>(static_cast<int64_t>(v), 0, dcols - 1);
        if (dt.flip_rows) r0 = drows - 1 - r0;
        if (dt.flip_cols) c0 = dcols - 1 - c0;
        if (dt.transpose) {
            i = r0;
            j = c0;
        } else {
            j = r0;
            i = c0;
        }
    };
    const double lo = o.window_lo, span = std::max(1e-6, o.window_hi - o.window_lo);
    const int outline_w = std::max(1, static_cast<int>(std::lround(o.tile / 256.0)));
    std::vector<uint8_t> m(static_cast<size_t>(tw) * th);
    for (size_t t = 0; t < ks.size(); ++t) {
        const int64_t k = ks[t];
        const int x0 = gap + static_cast<int>(t % static_cast<size_t>(cols)) * (tw + gap);
        const int y0 = header + static_cast<int>(t / static_cast<size_t>(cols)) * (th + label_h + gap);
        const float* s = ct.voxels.data() + k * ny * nx;
        const uint8_t* mk = mask.voxels.data() + k * ny * nx;
        render::Image& img = cv.image();
        for (int y = 0; y < th; ++y)
            for (int x = 0; x < tw; ++x) {
                // the tile pixel's centre in display-grid coordinates (nearest stored pixel)
                const double u = (y + 0.5) / scale / prow, v = (x + 0.5) / scale / pcol;
                int64_t j, i;
                stored(u, v, j, i);
                const double g = std::clamp((s[j * nx + i] - lo) / span, 0.0, 1.0);
                const uint8_t c = static_cast<uint8_t>(std::lround(255 * g));
                const int px = x0 + x, py = y0 + label_h + y;
                if (px < img.width && py < img.height) {
                    uint8_t* p = img.rgb.data() + (static_cast<size_t>(py) * img.width + px) * 3;
                    p[0] = p[1] = p[2] = c;
                }
                m[static_cast<size_t>(y) * tw + x] = mk[j * nx + i] ? 1 : 0;
            }
        // outline: mask pixels of the tile with a 4-neighbour outside the mask, thickened to outline_w
        for (int y = 0; y < th; ++y)
            for (int x = 0; x < tw; ++x) {
                if (!m[static_cast<size_t>(y) * tw + x]) continue;
                bool edge = false;
                for (int d = 1; d <= outline_w && !edge; ++d)
                    edge = x - d < 0 || x + d >= tw || y - d < 0 || y + d >= th ||
                           !m[static_cast<size_t>(y) * tw + x - d] || !m[static_cast<size_t>(y) * tw + x + d] ||
                           !m[static_cast<size_t>(y - d) * tw + x] || !m[static_cast<size_t>(y + d) * tw + x];
                if (edge) cv.blend(x0 + x, y0 + label_h + y, o.outline, 1.0);
            }
        const SliceReport& sr = r.slices[static_cast<size_t>(k)];
        std::snprintf(buf, sizeof buf, "slice %lld, z %.1f mm: %.2f mL", static_cast<long long>(k), sr.z_mm,
                      static_cast<double>(sr.voxels) * r.voxel_volume_mm3 / 1000.0);
        render::TextStyle lab = cap;
        lab.size = std::min(static_cast<double>(text), 0.95 * tw / (static_cast<double>(std::strlen(buf)) * 6.0 / 7.0));
        lab.color = sr.voxels > 0 ? render::Color{255, 200, 200} : render::colors::light_grey;
        cv.text(x0 + 2, y0 + 3, buf, lab);
    }
    return cv.image();
}

/// The montage as PNG bytes.
inline std::string qc_png(const io::Volume& ct, const io::Mask& mask, const Report& r, const std::string& title,
                          const std::vector<std::string>& warnings, const QcOptions& o = {}) {
    return render::encode_png(qc_montage(ct, mask, r, title, warnings, o));
}

}  // namespace ichseg::predict
