/// @file bf16.hpp (cpu)
/// @brief What the CPU build can do in BF16, and the small vector helpers the BF16 kernels share.
///
/// BF16 products come in two kinds, both chosen at compile time from the target ISA (the library is header-only
/// and built with -march=native by default):
///   - AMX tiles (`amx_tile` + `amx_bf16`, Intel Sapphire Rapids and later): TDPBF16PS multiplies a 16 x 32 BF16
///     tile by a 32 x 16 one into 16 x 16 FP32 accumulators. Linux hands the tile registers to a process only
///     after it asks (arch_prctl ARCH_REQ_XCOMP_PERM); if it refuses, the AVX-512 kernels run instead.
///   - AVX512_BF16 (Zen 4, Cooper Lake and later): VDPBF16PS adds, in each of 16 FP32 lanes, the products of one
///     adjacent pair of BF16 values.
/// Both read the second operand in the "VNNI" layout, pairs of the reduction dimension interleaved: element
/// (k, n) at [k / 2][n][k % 2]. Conversions round to nearest even (VCVTNE2PS2BF16). Accumulation is FP32.
/// Without AVX512_BF16 in the build, nothing here is compiled and BF16 requests compute in FP32 (bf16_status()).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ichseg/core/precision.hpp"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512BF16__)
#define ICHSEG_CPU_BF16 1
// The intrinsics header with GCC 12's false positives off for its own lines only, as core/eigen.hpp does (GCC bug
// 105593): whichever of the two headers comes first includes it.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
#else
#define ICHSEG_CPU_BF16 0
#endif
#if ICHSEG_CPU_BF16 && defined(__AMX_TILE__) && defined(__AMX_BF16__) && defined(__linux__)
#define ICHSEG_CPU_AMX 1
#include <sys/syscall.h>
#include <unistd.h>
#else
#define ICHSEG_CPU_AMX 0
#endif

namespace ichseg::cpu {

/// Which instructions compute the BF16 products.
enum class Bf16Kernel { None, AvxDot, Amx };

inline const char* bf16_kernel_name(Bf16Kernel k) {
    return k == Bf16Kernel::Amx ? "AMX tiles (TDPBF16PS)" : k == Bf16Kernel::AvxDot ? "AVX512_BF16 (VDPBF16PS)"
                                                                                      : "none";
}

namespace detail {
/// Asks Linux for the AMX tile state once per process; false (with the reason) when the build has no AMX or the
/// kernel refuses.
inline bool amx_permission(std::string* why) {
#if ICHSEG_CPU_AMX
    static const long rc = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */);
    if (rc != 0 && why) *why = "the kernel refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM)";
    return rc == 0;
#else
    if (why) *why = "this build was not compiled for AMX (amx_tile, amx_bf16)";
    return false;
#endif
}
/// Override of the automatic kernel choice (tests and benchmarks run both kinds on one machine).
inline Bf16Kernel& bf16_kernel_override() {
    static Bf16Kernel k = [] {
        const char* s = std::getenv("ICHSEG_BF16_KERNEL");  // "avx512" forces VDPBF16PS where AMX is present
        return s && std::strcmp(s, "avx512") == 0 ? Bf16Kernel::AvxDot : Bf16Kernel::None;
    }();
    return k;
}
}  // namespace detail

/// The kernel BF16 products use in this process: AMX where compiled and permitted, else AVX512_BF16, else None.
inline Bf16Kernel bf16_kernel() {
#if ICHSEG_CPU_BF16
    const Bf16Kernel forced = detail::bf16_kernel_override();
    if (forced == Bf16Kernel::AvxDot) return forced;
    return detail::amx_permission(nullptr) ? Bf16Kernel::Amx : Bf16Kernel::AvxDot;
#else
    return Bf16Kernel::None;
#endif
}
/// Force the VDPBF16PS kernels (true) or return to the automatic choice (false). Not thread-safe: call it while
/// no BF16 op runs.
inline void force_bf16_avx512(bool on) {
    detail::bf16_kernel_override() = on ? Bf16Kernel::AvxDot : Bf16Kernel::None;
}
/// Whether BF16 products are available at all in this build.
inline bool bf16_available() { return bf16_kernel() != Bf16Kernel::None; }

/// One line for logs: what a BF16 request computes with on this build and CPU, and why.
inline std::string bf16_status() {
#if ICHSEG_CPU_BF16
    std::string why;
    const bool amx = detail::amx_permission(&why);
    const Bf16Kernel k = bf16_kernel();
    std::string s = std::string("BF16 products on ") + bf16_kernel_name(k) + ", FP32 accumulation";
    if (k == Bf16Kernel::AvxDot && !amx) s += " (no AMX: " + why + ")";
    if (k == Bf16Kernel::AvxDot && amx) s += " (AMX present, VDPBF16PS forced)";
    return s;
#else
    return "BF16 requested but this build has no AVX512_BF16 instructions (compiled without -mavx512bf16, e.g. for "
           "an AVX2 CPU): computing in FP32";
#endif
}

/// "fp32", or for BF16 what it computes with here ("bf16: BF16 products on AMX tiles ..., FP32 accumulation" or
/// "bf16 requested ...: computing in FP32"): the line the programs log.
inline std::string describe_precision(Precision p) {
    if (p == Precision::FP32) return "precision fp32";
    return "precision bf16: " + bf16_status();
}

#if ICHSEG_CPU_BF16
namespace bf16v {

/// 16 floats -> 16 BF16 (round to nearest even), stored at p (32 bytes).
inline void store16(uint16_t* p, __m512 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
}
/// Two rows of 16 floats -> 32 BF16 with the rows interleaved: {a0, b0, a1, b1, ...} (a pair per 32-bit lane).
inline __m512i interleave2(__m512 a, __m512 b) {
    const __m512i packed = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a));  // a in the low half, b high
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                         6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(idx, packed);
}
/// In-place transpose of a 16 x 16 matrix of 32-bit elements held in r[0..15]: unpack pairs, then quadruples,
/// then exchange 128-bit lanes. Written with GCC's generic two-vector shuffle (the same instructions) rather than
/// the _mm512_unpack* / _mm512_shuffle_i32x4 intrinsics, whose GCC 12 definitions start from an undefined vector
/// and raise -Wmaybe-uninitialized false positives when inlined.
inline void transpose16x16(__m512i r[16]) {
    typedef int v16i __attribute__((vector_size(64)));
    const v16i lo32 = {0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29};
    const v16i hi32 = {2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31};
    const v16i lo64 = {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29};
    const v16i hi64 = {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31};
    const v16i even128 = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27};  // lanes a0 a2 b0 b2
    const v16i odd128 = {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31};  // lanes a1 a3 b1 b3
    v16i x[16], t[16];
    for (int i = 0; i < 16; ++i) x[i] = reinterpret_cast<v16i>(r[i]);
    for (int i = 0; i < 16; i += 2) {
        t[i] = __builtin_shuffle(x[i], x[i + 1], lo32);
        t[i + 1] = __builtin_shuffle(x[i], x[i + 1], hi32);
    }
    // x[4q + j], in 128-bit lane L: column 4 L + j of rows 4q .. 4q + 3
    for (int i = 0; i < 16; i += 4) {
        x[i] = __builtin_shuffle(t[i], t[i + 2], lo64);
        x[i + 1] = __builtin_shuffle(t[i], t[i + 2], hi64);
        x[i + 2] = __builtin_shuffle(t[i + 1], t[i + 3], lo64);
        x[i + 3] = __builtin_shuffle(t[i + 1], t[i + 3], hi64);
    }
    // column 4 L + j = lane L of x[j], x[4 + j], x[8 + j], x[12 + j], in that order
    for (int j = 0; j < 4; ++j) {
        t[j] = __builtin_shuffle(x[j], x[4 + j], even128);
        t[4 + j] = __builtin_shuffle(x[j], x[4 + j], odd128);
        t[8 + j] = __builtin_shuffle(x[8 + j], x[12 + j], even128);
        t[12 + j] = __builtin_shuffle(x[8 + j], x[12 + j], odd128);
    }
    for (int j = 0; j < 4; ++j) {
        r[j] = reinterpret_cast<__m512i>(__builtin_shuffle(t[j], t[8 + j], even128));
        r[8 + j] = reinterpret_cast<__m512i>(__builtin_shuffle(t[j], t[8 + j], odd128));
        r[4 + j] = reinterpret_cast<__m512i>(__builtin_shuffle(t[4 + j], t[12 + j], even128));
        r[12 + j] = reinterpret_cast<__m512i>(__builtin_shuffle(t[4 + j], t[12 + j], odd128));
    }
}
/// The sum of the 16 lanes, in lane order (not _mm512_reduce_add_ps: the same GCC 12 false positive).
inline float sum16(__m512 v) {
    alignas(64) float t[16];
    _mm512_store_ps(t, v);
    float s = 0;
    for (int i = 0; i < 16; ++i) s += t[i];
    return s;
}

}  // namespace bf16v
#endif

#if ICHSEG_CPU_AMX
/// The 64-byte AMX tile configuration (palette 1): rows and bytes per row of each of the 8 tiles.
struct alignas(64) AmxConfig {
    uint8_t palette = 1, start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
    void set(int tile, int rows_, int bytes_per_row) {
        rows[tile] = static_cast<uint8_t>(rows_);
        colsb[tile] = static_cast<uint16_t>(bytes_per_row);
    }
};
/// Loads a tile configuration on the calling thread and releases the tile state when it goes out of scope (an
/// idle thread then saves no tile registers at context switches).
class AmxScope {
public:
    explicit AmxScope(const AmxConfig& c) { _tile_loadconfig(&c); }
    ~AmxScope() { _tile_release(); }
    AmxScope(const AmxScope&) = delete;
    AmxScope& operator=(const AmxScope&) = delete;
};
#endif

}  // namespace ichseg::cpu
