/// @file labels.hpp
/// @brief ICH labels shared by every dataset and the phantom generator: "any ICH" and the five subtypes, each
/// 1 / 0 / unknown, per slice or per volume, and the SPEC §4 multi-label vector
/// (no_ICH, ICH, EDH, IPH, IVH, SAH, SDH). Header-only, no dependencies.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace ichseg::io {

/// The five subtypes in the SPEC's multi-label order (after no_ICH, ICH).
enum class IchSubtype : int { EDH = 0, IPH = 1, IVH = 2, SAH = 3, SDH = 4 };
constexpr int kNumSubtypes = 5;

inline const char* subtype_name(IchSubtype s) {
    switch (s) {
        case IchSubtype::EDH: return "EDH";
        case IchSubtype::IPH: return "IPH";
        case IchSubtype::IVH: return "IVH";
        case IchSubtype::SAH: return "SAH";
        default: return "SDH";
    }
}
/// Long names as in PhysioNet / RSNA ("epidural", ...).
inline const char* subtype_long_name(IchSubtype s) {
    switch (s) {
        case IchSubtype::EDH: return "epidural";
        case IchSubtype::IPH: return "intraparenchymal";
        case IchSubtype::IVH: return "intraventricular";
        case IchSubtype::SAH: return "subarachnoid";
        default: return "subdural";
    }
}

/// Labels of one slice or one volume: 1 = present, 0 = absent, -1 = unknown (not annotated in that layout).
struct IchLabels {
    int8_t any = -1;
    std::array<int8_t, kNumSubtypes> subtype{{-1, -1, -1, -1, -1}};

    static IchLabels negative() {
        IchLabels l;
        l.any = 0;
        l.subtype.fill(0);
        return l;
    }
    int8_t& operator[](IchSubtype s) { return subtype[static_cast<size_t>(s)]; }
    int8_t operator[](IchSubtype s) const { return subtype[static_cast<size_t>(s)]; }
    bool subtypes_known() const {
        for (int8_t v : subtype)
            if (v < 0) return false;
        return true;
    }
    /// SPEC §4 order: no_ICH, ICH, EDH, IPH, IVH, SAH, SDH; unknown entries are -1.
    std::array<float, 7> multilabel7() const {
        std::array<float, 7> v{};
        v[0] = any < 0 ? -1.f : static_cast<float>(1 - any);
        v[1] = static_cast<float>(any);
        for (int s = 0; s < kNumSubtypes; ++s) v[static_cast<size_t>(s + 2)] = static_cast<float>(subtype[static_cast<size_t>(s)]);
        return v;
    }
    /// Element-wise OR (1 wins, then 0, then unknown) -- volume labels from slice labels.
    void merge(const IchLabels& o) {
        auto m = [](int8_t a, int8_t b) -> int8_t { return (a == 1 || b == 1) ? 1 : ((a == 0 || b == 0) ? 0 : -1); };
        any = m(any, o.any);
        for (size_t s = 0; s < subtype.size(); ++s) subtype[s] = m(subtype[s], o.subtype[s]);
    }
    std::string str() const {
        auto c = [](int8_t v) { return v < 0 ? '?' : static_cast<char>('0' + v); };
        std::string r = "any=";
        r += c(any);
        for (int s = 0; s < kNumSubtypes; ++s) {
            r += ' ';
            r += subtype_name(static_cast<IchSubtype>(s));
            r += '=';
            r += c(subtype[static_cast<size_t>(s)]);
        }
        return r;
    }
    bool operator==(const IchLabels& o) const { return any == o.any && subtype == o.subtype; }
    bool operator!=(const IchLabels& o) const { return !(*this == o); }
};

}  // namespace ichseg::io
