/// @file common.hpp (params)
/// @brief The params layer: one header per op with the struct of resolved sizes and scalars that BOTH backends
/// take (cpu:: kernels, cuda:: launchers, the kernels/*.cu device code), and `Support`, a backend's answer to
/// "can you run this op on these arguments?".
///
/// params/ sits between core/ and the backends: its headers include only config.hpp and core/, hold plain
/// aggregates (no tensors, no allocation), and mark member functions ICHSEG_HOST_DEVICE so that device code can
/// call them while a g++ translation unit sees plain inline functions (no CUDA header is ever pulled in).
#pragma once

#include <string>
#include <utility>

namespace ichseg {

/// Whether a backend runs an op for given params and element type; when not, `reason` says why in words that
/// complete "<op>: F64 tensors on cuda:0 are not supported by the CUDA backend: <reason>".
struct Support {
    std::string reason;  ///< empty when supported

    static Support yes() { return {}; }
    static Support no(std::string why) { return {std::move(why)}; }
    bool ok() const { return reason.empty(); }
    explicit operator bool() const { return ok(); }
};

/// The first refusal among several checks, or yes.
inline Support all_of(Support a) { return a; }
template <class... R>
Support all_of(Support a, R... rest) {
    return a.ok() ? all_of(std::move(rest)...) : a;
}

}  // namespace ichseg
