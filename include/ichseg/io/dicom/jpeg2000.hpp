/// @file dicom/jpeg2000.hpp
/// @brief JPEG 2000 pixel data (transfer syntaxes 1.2.840.10008.1.2.4.90 "lossless only" and .91 "lossless or
/// lossy") through OpenJPEG, plugged into DCMTK as a decoder codec. Debian's DCMTK is built without OpenJPEG; once
/// `j2k::register_decoder()` has run (dicom/dcmtk.hpp does it), `chooseRepresentation(EXS_LittleEndianExplicit)`
/// decodes JPEG 2000 exactly as it decodes JPEG, JPEG-LS and RLE, so every reader above (slices, series, dataset
/// layouts, ichseg_inspect, ichseg_predict) reads these files with no code of its own.
///
/// What the decoder accepts: 1 or 3 components (SamplesPerPixel), precision 1..16 bits in BitsAllocated 8 or 16,
/// signed or unsigned, one frame split over any number of fragments, several frames (Basic Offset Table, one
/// fragment per frame, or fragment starts found by the SOC marker), a raw codestream or (tolerated, as pydicom and
/// GDCM do) one wrapped in a JP2 file. Output: little-endian native pixel data, samples interleaved; a sample keeps
/// its codestream value (a signed sample as two's complement in the BitsAllocated word, so the HU conversion
/// masks it to BitsStored and sign-extends by PixelRepresentation exactly as for uncompressed data). For colour
/// images coded with the JPEG 2000 colour transform (YBR_ICT / YBR_RCT), OpenJPEG undoes it and the dataset then
/// says RGB.
///
/// Every check happens before OpenJPEG allocates image memory, on the codestream's SIZ marker read here: image size
/// against Rows x Columns, component count against SamplesPerPixel, precision against BitsAllocated, no
/// sub-sampling, a sane tile count. A truncated or corrupt codestream is an error (OpenJPEG's strict mode), never
/// a partial image. Each failure is a DCMTK condition whose text the slice reader puts after the file name.
///
/// `j2k::encode` is the reverse (reversible 5/3 or irreversible 9/7 at a compression ratio), used by the DICOM
/// writer for fixtures and the data-pipeline benchmark.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcstack.h>
#include <dcmtk/dcmdata/dcvrpobw.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <openjpeg.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ichseg::io::j2k {

/// What a decoded frame must look like (from the DICOM header).
struct FrameLayout {
    uint32_t rows = 0, cols = 0, samples = 1, bits_allocated = 16;
    size_t bytes() const { return size_t(rows) * cols * samples * (bits_allocated / 8); }
};

/// The image part of a codestream's SIZ marker.
struct SizInfo {
    uint32_t width = 0, height = 0, components = 0, tiles = 0;
    uint32_t precision = 0;  ///< of component 0
    bool is_signed = false;  ///< of component 0
};

namespace detail {

inline uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

/// The codestream inside `data`: itself when it starts with SOC (FF 4F), or the contents of the contiguous
/// codestream box ('jp2c') of a JP2 file. Empty (nullptr) when neither is found.
inline std::pair<const uint8_t*, size_t> find_codestream(const uint8_t* data, size_t n) {
    if (n >= 2 && data[0] == 0xFF && data[1] == 0x4F) return {data, n};
    static const uint8_t jp2_sig[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
    if (n < 12 || std::memcmp(data, jp2_sig, 12) != 0) return {nullptr, 0};
    size_t pos = 0;
    while (pos + 8 <= n) {
        uint64_t len = be32(data + pos);
        size_t head = 8;
        if (len == 1) {  // XLBox
            if (pos + 16 > n) break;
            len = (uint64_t(be32(data + pos + 8)) << 32) | be32(data + pos + 12);
            head = 16;
        } else if (len == 0) {  // box runs to the end
            len = n - pos;
        }
        if (len < head || len > n - pos) break;
        if (std::memcmp(data + pos + 4, "jp2c", 4) == 0) return {data + pos + head, static_cast<size_t>(len - head)};
        pos += static_cast<size_t>(len);
    }
    return {nullptr, 0};
}

/// Read SOC + SIZ; empty string on success, else why not.
inline std::string read_siz(const uint8_t* cs, size_t n, SizInfo& s) {
    if (n < 4 || cs[0] != 0xFF || cs[1] != 0x4F || cs[2] != 0xFF || cs[3] != 0x51)
        return "not a JPEG 2000 codestream (it must start with the SOC and SIZ markers FF4F FF51)";
    if (n < 4 + 2 + 38) return "codestream truncated inside its SIZ marker";
    const uint8_t* p = cs + 4;
    const uint32_t lsiz = be16(p);
    const uint32_t xsiz = be32(p + 4), ysiz = be32(p + 8), xo = be32(p + 12), yo = be32(p + 16);
    const uint32_t xt = be32(p + 20), yt = be32(p + 24), xto = be32(p + 28), yto = be32(p + 32);
    const uint32_t csiz = be16(p + 36);
    if (csiz == 0 || csiz > 16384) return "SIZ marker has " + std::to_string(csiz) + " components";
    if (lsiz != 38 + 3 * csiz) return "SIZ marker length " + std::to_string(lsiz) + " does not match its component count";
    if (n < 4 + 2 + size_t(lsiz)) return "codestream truncated inside its SIZ marker";
    if (xsiz <= xo || ysiz <= yo) return "SIZ marker describes an empty image";
    if (xt == 0 || yt == 0 || xto > xo || yto > yo || uint64_t(xto) + xt <= xo || uint64_t(yto) + yt <= yo)
        return "SIZ marker has an invalid tiling";
    s.width = xsiz - xo;
    s.height = ysiz - yo;
    s.components = csiz;
    const uint64_t tw = (uint64_t(xsiz) - xto + xt - 1) / xt, th = (uint64_t(ysiz) - yto + yt - 1) / yt;
    s.tiles = tw * th > 0xFFFFFFFFull ? 0xFFFFFFFFu : static_cast<uint32_t>(tw * th);
    for (uint32_t c = 0; c < csiz; ++c) {
        const uint8_t ssiz = p[38 + 3 * c], dx = p[39 + 3 * c], dy = p[40 + 3 * c];
        const uint32_t prec = (ssiz & 0x7Fu) + 1;
        const bool sgnd = (ssiz & 0x80u) != 0;
        if (c == 0) {
            s.precision = prec;
            s.is_signed = sgnd;
        } else if (prec != s.precision || sgnd != s.is_signed) {
            return "components differ in precision or signedness";
        }
        if (dx != 1 || dy != 1) return "component " + std::to_string(c) + " is sub-sampled (" + std::to_string(dx) +
                                       " x " + std::to_string(dy) + "); DICOM images are not";
    }
    return {};
}

/// Check the SIZ against the DICOM header. Empty on success.
inline std::string check_siz(const SizInfo& s, const FrameLayout& f) {
    if (s.width != f.cols || s.height != f.rows)
        return "codestream image is " + std::to_string(s.width) + " x " + std::to_string(s.height) +
               " pixels (width x height) but Columns x Rows is " + std::to_string(f.cols) + " x " +
               std::to_string(f.rows);
    if (s.components != f.samples)
        return "codestream has " + std::to_string(s.components) + " component(s) but SamplesPerPixel is " +
               std::to_string(f.samples);
    if (s.precision > f.bits_allocated || s.precision > 16)
        return "codestream precision " + std::to_string(s.precision) + " bits exceeds BitsAllocated " +
               std::to_string(f.bits_allocated) + (s.precision > 16 ? " (at most 16 bits are supported)" : "");
    // Real encoders tile by 64 x 64 pixels or more; tiny tiles only make OpenJPEG allocate per-tile state.
    const uint64_t pixels = uint64_t(s.width) * s.height;
    if (s.tiles > 65535 || uint64_t(s.tiles) > 1 + pixels / 64)
        return "codestream has an absurd tiling (" + std::to_string(s.tiles) + " tiles for " + std::to_string(pixels) +
               " pixels)";
    return {};
}

struct ReadStream {
    const uint8_t* data;
    size_t size, pos;
};
inline OPJ_SIZE_T stream_read(void* buf, OPJ_SIZE_T n, void* user) {
    auto* s = static_cast<ReadStream*>(user);
    if (s->pos >= s->size) return static_cast<OPJ_SIZE_T>(-1);
    const size_t k = std::min<size_t>(n, s->size - s->pos);
    std::memcpy(buf, s->data + s->pos, k);
    s->pos += k;
    return k;
}
inline OPJ_OFF_T stream_skip(OPJ_OFF_T n, void* user) {
    auto* s = static_cast<ReadStream*>(user);
    if (n < 0) {
        const size_t back = std::min<size_t>(static_cast<size_t>(-n), s->pos);
        s->pos -= back;
        return -static_cast<OPJ_OFF_T>(back);
    }
    const size_t k = std::min<size_t>(static_cast<size_t>(n), s->size - std::min(s->pos, s->size));
    s->pos += k;
    return static_cast<OPJ_OFF_T>(k);
}
inline OPJ_BOOL stream_seek(OPJ_OFF_T n, void* user) {
    auto* s = static_cast<ReadStream*>(user);
    if (n < 0 || static_cast<uint64_t>(n) > s->size) return OPJ_FALSE;
    s->pos = static_cast<size_t>(n);
    return OPJ_TRUE;
}

struct WriteStream {
    std::vector<uint8_t> bytes;
    size_t pos = 0;
};
inline OPJ_SIZE_T stream_write(void* buf, OPJ_SIZE_T n, void* user) {
    auto* s = static_cast<WriteStream*>(user);
    if (s->pos + n > s->bytes.size()) s->bytes.resize(s->pos + n);
    std::memcpy(s->bytes.data() + s->pos, buf, n);
    s->pos += n;
    return n;
}
inline OPJ_OFF_T stream_wskip(OPJ_OFF_T n, void* user) {
    auto* s = static_cast<WriteStream*>(user);
    if (n < 0 && static_cast<size_t>(-n) > s->pos) return -1;
    s->pos = static_cast<size_t>(static_cast<OPJ_OFF_T>(s->pos) + n);
    if (s->pos > s->bytes.size()) s->bytes.resize(s->pos);
    return n;
}
inline OPJ_BOOL stream_wseek(OPJ_OFF_T n, void* user) {
    auto* s = static_cast<WriteStream*>(user);
    if (n < 0) return OPJ_FALSE;
    s->pos = static_cast<size_t>(n);
    if (s->pos > s->bytes.size()) s->bytes.resize(s->pos);
    return OPJ_TRUE;
}

/// OpenJPEG's error messages of one decode/encode call (warnings and info are dropped).
inline void collect_error(const char* msg, void* user) {
    auto* e = static_cast<std::string*>(user);
    std::string m = msg ? msg : "";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    if (m.empty()) return;
    if (!e->empty()) *e += "; ";
    if (e->size() < 400) *e += m;
}
inline void ignore_message(const char*, void*) {}

struct CodecDeleter {
    void operator()(opj_codec_t* c) const { opj_destroy_codec(c); }
};
struct StreamDeleter {
    void operator()(opj_stream_t* s) const { opj_stream_destroy(s); }
};
struct ImageDeleter {
    void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};

}  // namespace detail

/// Decode one frame (a codestream, or a JP2 file holding one) into `out` (f.bytes() bytes, samples interleaved,
/// little-endian words). Returns an empty string on success, else the reason (no exception: this runs inside
/// DCMTK's codec framework).
inline std::string decode_frame(const uint8_t* data, size_t n, const FrameLayout& f, uint8_t* out,
                                SizInfo* info = nullptr) {
    if (f.bits_allocated != 8 && f.bits_allocated != 16)
        return "BitsAllocated " + std::to_string(f.bits_allocated) + " (JPEG 2000 images are read with 8 or 16)";
    const auto cs = detail::find_codestream(data, n);
    if (!cs.first)
        return n == 0 ? std::string("empty JPEG 2000 frame")
                      : "not a JPEG 2000 codestream (it must start with the SOC and SIZ markers FF4F FF51)";
    SizInfo s;
    std::string why = detail::read_siz(cs.first, cs.second, s);
    if (why.empty()) why = detail::check_siz(s, f);
    if (info) *info = s;
    if (!why.empty()) return why;

    std::string err;
    std::unique_ptr<opj_codec_t, detail::CodecDeleter> codec(opj_create_decompress(OPJ_CODEC_J2K));
    if (!codec) return "OpenJPEG could not create a decoder";
    opj_set_error_handler(codec.get(), detail::collect_error, &err);
    opj_set_warning_handler(codec.get(), detail::ignore_message, nullptr);
    opj_set_info_handler(codec.get(), detail::ignore_message, nullptr);
    opj_dparameters_t par;
    opj_set_default_decoder_parameters(&par);
    if (!opj_setup_decoder(codec.get(), &par)) return "OpenJPEG decoder setup failed: " + err;
    opj_decoder_set_strict_mode(codec.get(), OPJ_TRUE);  // a truncated codestream is an error, not a partial image
    detail::ReadStream rs{cs.first, cs.second, 0};
    std::unique_ptr<opj_stream_t, detail::StreamDeleter> stream(opj_stream_create(1 << 16, OPJ_TRUE));
    if (!stream) return "OpenJPEG could not create a stream";
    opj_stream_set_user_data(stream.get(), &rs, nullptr);
    opj_stream_set_user_data_length(stream.get(), cs.second);
    opj_stream_set_read_function(stream.get(), detail::stream_read);
    opj_stream_set_skip_function(stream.get(), detail::stream_skip);
    opj_stream_set_seek_function(stream.get(), detail::stream_seek);
    opj_image_t* raw = nullptr;
    if (!opj_read_header(stream.get(), codec.get(), &raw)) {
        if (raw) opj_image_destroy(raw);
        return "corrupt JPEG 2000 main header (OpenJPEG: " + (err.empty() ? std::string("no detail") : err) + ")";
    }
    std::unique_ptr<opj_image_t, detail::ImageDeleter> image(raw);
    // OpenJPEG's view of the header must be the one checked above.
    if (image->numcomps != f.samples || image->x1 - image->x0 != f.cols || image->y1 - image->y0 != f.rows)
        return "OpenJPEG reads a different image header than the SIZ marker";
    if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get()))
        return "corrupt or truncated JPEG 2000 codestream (OpenJPEG: " + (err.empty() ? std::string("no detail") : err) +
               ")";
    for (uint32_t c = 0; c < f.samples; ++c) {
        const opj_image_comp_t& comp = image->comps[c];
        if (!comp.data || comp.w != f.cols || comp.h != f.rows || comp.prec > f.bits_allocated)
            return "OpenJPEG returned component " + std::to_string(c) + " of an unexpected size";
    }
    const size_t npix = size_t(f.rows) * f.cols;
    if (f.bits_allocated == 8) {
        for (uint32_t c = 0; c < f.samples; ++c) {
            const OPJ_INT32* d = image->comps[c].data;
            for (size_t i = 0; i < npix; ++i) out[i * f.samples + c] = static_cast<uint8_t>(d[i] & 0xFF);
        }
    } else {
        for (uint32_t c = 0; c < f.samples; ++c) {
            const OPJ_INT32* d = image->comps[c].data;
            for (size_t i = 0; i < npix; ++i) {
                const uint32_t v = static_cast<uint32_t>(d[i]) & 0xFFFFu;
                uint8_t* o = out + 2 * (i * f.samples + c);
                o[0] = static_cast<uint8_t>(v & 0xFF);
                o[1] = static_cast<uint8_t>(v >> 8);
            }
        }
    }
    return {};
}

/// Encode one frame (`samples[rows * cols * components]`, row-major, samples interleaved) as a raw J2K
/// codestream. `precision` 1..16 bits, `is_signed` as PixelRepresentation. `ratio` <= 1: reversible 5/3 wavelet
/// (lossless), else the irreversible 9/7 wavelet at about that compression ratio (lossy). No colour transform.
/// Throws std::runtime_error.
inline std::vector<uint8_t> encode(const int32_t* samples, uint32_t rows, uint32_t cols, uint32_t precision,
                                   bool is_signed, double ratio = 0, uint32_t components = 1) {
    if (rows == 0 || cols == 0 || precision < 1 || precision > 16 || components < 1 || components > 4)
        throw std::runtime_error("j2k::encode: invalid image " + std::to_string(cols) + " x " + std::to_string(rows) +
                                 ", precision " + std::to_string(precision) + ", " + std::to_string(components) +
                                 " component(s)");
    std::vector<opj_image_cmptparm_t> cp(components);
    for (auto& c : cp) {
        std::memset(&c, 0, sizeof c);
        c.dx = c.dy = 1;
        c.w = cols;
        c.h = rows;
        c.prec = precision;
        c.sgnd = is_signed ? 1 : 0;
    }
    std::unique_ptr<opj_image_t, detail::ImageDeleter> image(
        opj_image_create(components, cp.data(), components == 1 ? OPJ_CLRSPC_GRAY : OPJ_CLRSPC_SRGB));
    if (!image) throw std::runtime_error("j2k::encode: OpenJPEG could not allocate the image");
    image->x0 = image->y0 = 0;
    image->x1 = cols;
    image->y1 = rows;
    const size_t npix = size_t(rows) * cols;
    for (uint32_t c = 0; c < components; ++c)
        for (size_t i = 0; i < npix; ++i) image->comps[c].data[i] = samples[i * components + c];
    opj_cparameters_t par;
    opj_set_default_encoder_parameters(&par);
    par.tcp_mct = 0;
    par.tcp_numlayers = 1;
    par.cp_disto_alloc = 1;
    par.irreversible = ratio > 1 ? 1 : 0;
    par.tcp_rates[0] = ratio > 1 ? static_cast<float>(ratio) : 0.f;
    int levels = 1;  // resolutions: at most 6, and the smallest must keep at least one pixel
    while (levels < 6 && (std::min(rows, cols) >> levels) >= 1) ++levels;
    par.numresolution = levels;
    std::string err;
    std::unique_ptr<opj_codec_t, detail::CodecDeleter> codec(opj_create_compress(OPJ_CODEC_J2K));
    if (!codec) throw std::runtime_error("j2k::encode: OpenJPEG could not create an encoder");
    opj_set_error_handler(codec.get(), detail::collect_error, &err);
    opj_set_warning_handler(codec.get(), detail::ignore_message, nullptr);
    opj_set_info_handler(codec.get(), detail::ignore_message, nullptr);
    if (!opj_setup_encoder(codec.get(), &par, image.get()))
        throw std::runtime_error("j2k::encode: OpenJPEG encoder setup failed: " + err);
    detail::WriteStream ws;
    std::unique_ptr<opj_stream_t, detail::StreamDeleter> stream(opj_stream_create(1 << 16, OPJ_FALSE));
    if (!stream) throw std::runtime_error("j2k::encode: OpenJPEG could not create a stream");
    opj_stream_set_user_data(stream.get(), &ws, nullptr);
    opj_stream_set_write_function(stream.get(), detail::stream_write);
    opj_stream_set_skip_function(stream.get(), detail::stream_wskip);
    opj_stream_set_seek_function(stream.get(), detail::stream_wseek);
    if (!opj_start_compress(codec.get(), image.get(), stream.get()) || !opj_encode(codec.get(), stream.get()) ||
        !opj_end_compress(codec.get(), stream.get()))
        throw std::runtime_error("j2k::encode: OpenJPEG encoding failed: " + err);
    stream.reset();  // flushes
    ws.bytes.resize(ws.pos);
    return ws.bytes;
}

namespace detail {

inline OFCondition codec_error(const std::string& text) {
    return makeOFCondition(OFM_dcmdata, 0x7f2, OF_error, text.c_str());
}

/// Fragments (index into the pixel sequence, 1-based; item 0 is the Basic Offset Table) of each frame.
inline std::string frame_fragments(DcmPixelSequence* seq, uint32_t frames, std::vector<std::vector<unsigned long>>& out) {
    const unsigned long items = seq->card();
    if (items < 2) return "the encapsulated pixel data holds no fragment";
    const unsigned long nfrag = items - 1;
    if (frames > nfrag)  // every frame has at least one fragment: checked before anything is allocated for them
        return "NumberOfFrames is " + std::to_string(frames) + " but the pixel data holds only " +
               std::to_string(nfrag) + " fragment(s)";
    out.assign(frames, {});
    if (frames == 1) {
        for (unsigned long i = 1; i < items; ++i) out[0].push_back(i);
        return {};
    }
    DcmPixelItem* bot = nullptr;
    if (seq->getItem(bot, 0).good() && bot && bot->getLength() == 4ul * frames) {
        // Basic Offset Table: byte offset of each frame's first fragment item, from the first fragment's item tag.
        Uint8* b = nullptr;
        if (bot->getUint8Array(b).good() && b) {
            std::vector<uint64_t> starts(frames);
            for (uint32_t f = 0; f < frames; ++f)
                starts[f] = uint64_t(b[4 * f]) | (uint64_t(b[4 * f + 1]) << 8) | (uint64_t(b[4 * f + 2]) << 16) |
                            (uint64_t(b[4 * f + 3]) << 24);
            uint64_t pos = 0;
            uint32_t f = 0;
            bool ok = starts[0] == 0;
            for (unsigned long i = 1; i < items && ok; ++i) {
                DcmPixelItem* it = nullptr;
                if (seq->getItem(it, i).bad() || !it) return "cannot access fragment " + std::to_string(i);
                while (f + 1 < frames && starts[f + 1] == pos) ++f;
                if (f + 1 < frames && starts[f + 1] < pos) ok = false;
                out[f].push_back(i);
                pos += 8 + it->getLength();
            }
            if (ok && f + 1 == frames) return {};
            out.assign(frames, {});
        }
    }
    if (nfrag == frames) {
        for (uint32_t f = 0; f < frames; ++f) out[f].push_back(f + 1);
        return {};
    }
    // No usable offset table: a frame starts at each fragment that begins with SOC (or a JP2 signature).
    int64_t f = -1;
    for (unsigned long i = 1; i < items; ++i) {
        DcmPixelItem* it = nullptr;
        Uint8* p = nullptr;
        if (seq->getItem(it, i).bad() || !it) return "cannot access fragment " + std::to_string(i);
        const Uint32 len = it->getLength();
        if (len > 0 && (it->getUint8Array(p).bad() || !p)) return "cannot access fragment " + std::to_string(i);
        const bool starts = len >= 4 && ((p[0] == 0xFF && p[1] == 0x4F && p[2] == 0xFF && p[3] == 0x51) ||
                                         (len >= 12 && p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 12 && p[4] == 'j'));
        if (starts) ++f;
        if (f < 0) return "the first fragment does not start a JPEG 2000 codestream";
        if (f >= static_cast<int64_t>(frames))
            return "the pixel data holds more codestreams than NumberOfFrames (" + std::to_string(frames) + ")";
        out[static_cast<size_t>(f)].push_back(i);
    }
    if (f + 1 != static_cast<int64_t>(frames))
        return "the pixel data holds " + std::to_string(f + 1) + " codestream(s) but NumberOfFrames is " +
               std::to_string(frames);
    return {};
}

/// Decode frame `frame` of `seq` into `out` (layout.bytes() bytes).
inline std::string decode_sequence_frame(DcmPixelSequence* seq, const std::vector<unsigned long>& items,
                                         const FrameLayout& layout, uint8_t* out, uint32_t frame, uint32_t frames) {
    const std::string where = frames > 1 ? "frame " + std::to_string(frame + 1) + ": " : std::string();
    std::vector<uint8_t> joined;
    const uint8_t* data = nullptr;
    size_t n = 0;
    for (unsigned long i : items) {
        DcmPixelItem* it = nullptr;
        Uint8* p = nullptr;
        if (seq->getItem(it, i).bad() || !it) return where + "cannot access fragment " + std::to_string(i);
        const Uint32 len = it->getLength();
        if (len == 0) continue;
        if (it->getUint8Array(p).bad() || !p) return where + "cannot access fragment " + std::to_string(i);
        if (items.size() == 1) {
            data = p;
            n = len;
        } else {
            joined.insert(joined.end(), p, p + len);
        }
    }
    if (items.size() > 1) {
        data = joined.data();
        n = joined.size();
    }
    const std::string why = decode_frame(data, n, layout, out);
    return why.empty() ? why : where + why;
}

}  // namespace detail

/// DCMTK codec: JPEG 2000 (.90 and .91) -> native little endian. Decoding only; stateless and thread-safe.
class Decoder : public DcmCodec {
public:
    OFCondition decode(const DcmRepresentationParameter*, DcmPixelSequence* seq, DcmPolymorphOBOW& pixels,
                       const DcmCodecParameter*, const DcmStack& stack, OFBool& removeOldRep) const override {
        removeOldRep = OFTrue;  // the compressed copy is not needed once decoded
        DcmStack local(stack);
        (void)local.pop();  // the PixelData element
        DcmObject* obj = local.pop();
        if (!obj || (obj->ident() != EVR_dataset && obj->ident() != EVR_item) || !seq) return EC_InvalidTag;
        DcmItem* ds = static_cast<DcmItem*>(obj);
        FrameLayout f;
        uint32_t frames = 1;
        std::string why = layout_of(ds, f, frames);
        if (!why.empty()) return detail::codec_error(why);
        const uint64_t total = uint64_t(f.bytes()) * frames;
        if (total > 0xFFFFFFF0ull) return detail::codec_error("decoded pixel data would exceed 4 GiB");
        std::vector<std::vector<unsigned long>> parts;
        why = detail::frame_fragments(seq, frames, parts);
        if (!why.empty()) return detail::codec_error(why);
        uint8_t* out = nullptr;
        OFCondition c;
        if (f.bits_allocated == 8) {
            Uint8* b = nullptr;
            c = pixels.createUint8Array(static_cast<Uint32>(total + (total & 1)), b);
            out = b;
        } else {
            Uint16* w = nullptr;
            c = pixels.createUint16Array(static_cast<Uint32>(total / 2), w);
            out = reinterpret_cast<uint8_t*>(w);
        }
        if (c.bad() || !out) return c.bad() ? c : detail::codec_error("cannot allocate the decoded pixel data");
        for (uint32_t k = 0; k < frames; ++k) {
            why = detail::decode_sequence_frame(seq, parts[k], f, out + size_t(k) * f.bytes(), k, frames);
            if (!why.empty()) return detail::codec_error(why);
        }
        if (f.bits_allocated == 16) swap_to_host(out, total);
        return update_header(ds, f);
    }

    OFCondition decodeFrame(const DcmRepresentationParameter*, DcmPixelSequence* seq, const DcmCodecParameter*,
                            DcmItem* ds, Uint32 frameNo, Uint32& startFragment, void* buffer, Uint32 bufSize,
                            OFString& colorModel) const override {
        if (!ds || !seq || !buffer) return EC_IllegalCall;
        FrameLayout f;
        uint32_t frames = 1;
        std::string why = layout_of(ds, f, frames);
        if (!why.empty()) return detail::codec_error(why);
        if (frameNo >= frames) return EC_IllegalCall;
        if (bufSize < f.bytes()) return EC_IllegalCall;
        std::vector<std::vector<unsigned long>> parts;
        why = detail::frame_fragments(seq, frames, parts);
        if (!why.empty()) return detail::codec_error(why);
        uint8_t* out = static_cast<uint8_t*>(buffer);
        why = detail::decode_sequence_frame(seq, parts[frameNo], f, out, frameNo, frames);
        if (!why.empty()) return detail::codec_error(why);
        if (f.bits_allocated == 16) swap_to_host(out, f.bytes());
        startFragment = static_cast<Uint32>(parts[frameNo].back() + 1);
        return determineDecompressedColorModel(nullptr, seq, nullptr, ds, colorModel);
    }

    OFCondition encode(const Uint16*, const Uint32, const DcmRepresentationParameter*, DcmPixelSequence*&,
                       const DcmCodecParameter*, DcmStack&, OFBool&) const override {
        return EC_IllegalCall;
    }
    OFCondition encode(const E_TransferSyntax, const DcmRepresentationParameter*, DcmPixelSequence*,
                       const DcmRepresentationParameter*, DcmPixelSequence*&, const DcmCodecParameter*, DcmStack&,
                       OFBool&) const override {
        return EC_IllegalCall;
    }
    OFBool canChangeCoding(const E_TransferSyntax from, const E_TransferSyntax to) const override {
        return (from == EXS_JPEG2000LosslessOnly || from == EXS_JPEG2000) && DcmXfer(to).isNotEncapsulated();
    }
    OFCondition determineDecompressedColorModel(const DcmRepresentationParameter*, DcmPixelSequence*,
                                                const DcmCodecParameter*, DcmItem* ds,
                                                OFString& colorModel) const override {
        if (!ds) return EC_IllegalCall;
        OFString pi;
        if (ds->findAndGetOFString(DCM_PhotometricInterpretation, pi).bad()) return EC_TagNotFound;
        colorModel = (pi == "YBR_ICT" || pi == "YBR_RCT") ? OFString("RGB") : pi;
        return EC_Normal;
    }

private:
    static std::string layout_of(DcmItem* ds, FrameLayout& f, uint32_t& frames) {
        Uint16 rows = 0, cols = 0, spp = 1, ba = 0;
        if (ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, cols).bad() || rows == 0 ||
            cols == 0)
            return "JPEG 2000: missing or zero Rows / Columns";
        if (ds->findAndGetUint16(DCM_BitsAllocated, ba).bad()) return "JPEG 2000: missing BitsAllocated";
        if (ds->findAndGetUint16(DCM_SamplesPerPixel, spp).bad()) spp = 1;
        if (spp != 1 && spp != 3) return "JPEG 2000: SamplesPerPixel " + std::to_string(spp) + " (1 or 3 supported)";
        if (ba != 8 && ba != 16) return "JPEG 2000: BitsAllocated " + std::to_string(ba) + " (8 or 16 supported)";
        Sint32 nf = 1;
        if (ds->findAndGetSint32(DCM_NumberOfFrames, nf).bad()) nf = 1;
        if (nf < 1) nf = 1;
        f.rows = rows;
        f.cols = cols;
        f.samples = spp;
        f.bits_allocated = ba;
        frames = static_cast<uint32_t>(nf);
        return {};
    }
    /// decode_frame writes little-endian words; DCMTK keeps OW data in host byte order.
    static void swap_to_host(uint8_t* p, uint64_t n) {
        const uint16_t probe = 1;
        uint8_t first;
        std::memcpy(&first, &probe, 1);
        if (first == 1) return;  // little-endian host
        for (uint64_t i = 0; i + 1 < n; i += 2) std::swap(p[i], p[i + 1]);
    }
    static OFCondition update_header(DcmItem* ds, const FrameLayout& f) {
        if (f.samples == 1) return EC_Normal;
        OFString pi;
        if (ds->findAndGetOFString(DCM_PhotometricInterpretation, pi).good() && (pi == "YBR_ICT" || pi == "YBR_RCT")) {
            const OFCondition c = ds->putAndInsertString(DCM_PhotometricInterpretation, "RGB");
            if (c.bad()) return c;
        }
        return ds->putAndInsertUint16(DCM_PlanarConfiguration, 0);  // samples interleaved
    }
};

/// DCMTK needs a codec parameter object; this codec has no settings.
class DecoderParameter : public DcmCodecParameter {
public:
    DcmCodecParameter* clone() const override { return new DecoderParameter(*this); }
    const char* className() const override { return "ichseg::io::j2k::DecoderParameter"; }
};

/// Register the decoder with DCMTK once per process (dicom/dcmtk.hpp calls it; the objects live until exit).
inline void register_decoder() {
    static Decoder* decoder = new Decoder();
    static DecoderParameter* param = new DecoderParameter();
    static const OFCondition c = DcmCodecList::registerCodec(decoder, nullptr, param);
    (void)c;
}

}  // namespace ichseg::io::j2k
