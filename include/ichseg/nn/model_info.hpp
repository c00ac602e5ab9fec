/// @file model_info.hpp (nn)
/// @brief The description of a model file (`ModelInfo`) and reading it from a safetensors file's metadata: the
/// part of nn/model_file.hpp that needs no network, so that the checks of an untrusted model file are usable (and
/// fuzzed, tests/fuzz/fuzz_model_file.cpp) on their own. Metadata keys: see nn/model_file.hpp.
#pragma once

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ichseg/io/safetensors.hpp"
#include "ichseg/nn/unet_config.hpp"

namespace ichseg::nn {

struct ModelInfo {
    UNetConfig unet;
    double window_lo = -50, window_hi = 150;  ///< HU window mapped to [0, 1] (SPEC §1)
    int64_t input_size = 256;                 ///< square network input, pixels
    std::string target = "ich";               ///< what the model segments: "ich" or "cavity"
    std::string description;
};

inline nlohmann::json unet_config_json(const UNetConfig& c) {
    return {{"in_channels", c.in_channels},   {"out_channels", c.out_channels},
            {"base_width", c.base_width},     {"depth", c.depth},
            {"mid_channels_factor", c.mid_channels_factor}, {"sigmoid", c.output_sigmoid}};
}

inline std::map<std::string, std::string> model_metadata(const ModelInfo& m) {
    return {{"ichseg.model", "UNet"},
            {"ichseg.unet", unet_config_json(m.unet).dump()},
            {"ichseg.window", nlohmann::json::array({m.window_lo, m.window_hi}).dump()},
            {"ichseg.input_size", std::to_string(m.input_size)},
            {"ichseg.target", m.target},
            {"ichseg.description", m.description}};
}

namespace detail {
/// An integer field of the ichseg.unet JSON, within [lo, hi]; fails (naming the file and key) on anything else,
/// floats included (a JSON 1e300 would otherwise be converted with undefined behaviour).
inline int64_t model_int(const nlohmann::json& u, const char* key, int64_t lo, int64_t hi, const std::string& path) {
    if (!u.contains(key)) fail(path, ": malformed model metadata: ichseg.unet has no '", key, "'");
    const auto& v = u.at(key);
    bool ok = false;
    int64_t x = 0;
    if (v.is_number_unsigned()) {
        const uint64_t w = v.get<uint64_t>();
        ok = w <= static_cast<uint64_t>(hi);
        x = ok ? static_cast<int64_t>(w) : 0;
    } else if (v.is_number_integer()) {
        x = v.get<int64_t>();
        ok = true;
    }
    if (!ok || x < lo || x > hi)
        fail(path, ": malformed model metadata: ichseg.unet '", key, "' must be an integer in [", lo, ", ", hi,
             "], got ", v.dump());
    return x;
}
}  // namespace detail

/// Read the description of a model file (throws naming the file and the key when it is not one). Model files
/// are untrusted input: every value is range-checked here, before anything is allocated from it (widths up to
/// 4096 channels, 1..1024 input / output channels, depth 2..8, input size 1..8192 and a multiple of
/// 2^(depth - 1), a finite window), and `check_model_tensors` then compares the tensors with the configuration.
inline ModelInfo read_model_info(const io::SafetensorsFile& f) {
    const auto& md = f.metadata();
    const std::string& path = f.path();
    auto need = [&](const char* k) -> const std::string& {
        auto it = md.find(k);
        if (it == md.end()) fail(path, ": not an ichseg model file (metadata key '", k, "' is missing)");
        return it->second;
    };
    ICHSEG_CHECK(need("ichseg.model") == "UNet", path, ": unsupported model type '", need("ichseg.model"), "'");
    ModelInfo m;
    try {
        const auto u = nlohmann::json::parse(need("ichseg.unet"));
        if (!u.is_object()) fail(path, ": malformed model metadata: ichseg.unet is not a JSON object");
        m.unet.in_channels = detail::model_int(u, "in_channels", 1, 1024, path);
        m.unet.out_channels = detail::model_int(u, "out_channels", 1, 1024, path);
        m.unet.base_width = detail::model_int(u, "base_width", 1, 4096, path);
        m.unet.depth = detail::model_int(u, "depth", 2, 8, path);
        m.unet.mid_channels_factor = detail::model_int(u, "mid_channels_factor", 1, 2, path);
        if (u.contains("sigmoid") && !u.at("sigmoid").is_boolean())
            fail(path, ": malformed model metadata: ichseg.unet 'sigmoid' must be true or false");
        m.unet.output_sigmoid = u.value("sigmoid", true);
        const auto w = nlohmann::json::parse(need("ichseg.window"));
        if (!w.is_array() || w.size() != 2 || !w[0].is_number() || !w[1].is_number())
            fail(path, ": malformed model metadata: ichseg.window must be [lo, hi] in HU, got ", w.dump());
        m.window_lo = w[0].get<double>();
        m.window_hi = w[1].get<double>();
        const std::string& is = need("ichseg.input_size");
        if (is.empty() || is.size() > 6 || is.find_first_not_of("0123456789") != std::string::npos)
            fail(path, ": malformed model metadata: ichseg.input_size '", is, "' is not a pixel count");
        m.input_size = std::stoll(is);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        fail(path, ": malformed model metadata (", e.what(), ")");
    }
    m.target = md.count("ichseg.target") ? md.at("ichseg.target") : "ich";
    m.description = md.count("ichseg.description") ? md.at("ichseg.description") : "";
    try {
        m.unet.validate();
    } catch (const Error& e) {
        fail(path, ": ", e.what());
    }
    ICHSEG_CHECK(m.unet.base_width >= m.unet.mid_channels_factor, path, ": base_width ", m.unet.base_width,
                 " is smaller than mid_channels_factor ", m.unet.mid_channels_factor);
    ICHSEG_CHECK(std::isfinite(m.window_lo) && std::isfinite(m.window_hi) && m.window_hi > m.window_lo, path,
                 ": invalid window [", m.window_lo, ", ", m.window_hi, "]");
    const int64_t mult = int64_t(1) << (m.unet.depth - 1);
    ICHSEG_CHECK(m.input_size >= mult && m.input_size <= 8192 && m.input_size % mult == 0, path, ": input size ",
                 m.input_size, " must be a multiple of ", mult, " (2^(depth - 1)) in [", mult, ", 8192]");
    return m;
}

/// The tensors of a U-Net's state dict (the keys and shapes of nn::UNet and of PyTorch's UNet in
/// benchmarks/reference/ichseg_torch.py) from its configuration alone, with the file dtype of each ("F32", or
/// "I64" for num_batches_tracked). tests/nn checks it against a built UNet for several configurations.
struct StateEntry {
    Shape shape;
    const char* dtype;
};
inline std::map<std::string, StateEntry> unet_state_shapes(const UNetConfig& c) {
    std::map<std::string, StateEntry> m;
    auto conv = [&](const std::string& p, int64_t out, int64_t in, int64_t k) {
        m[p + ".weight"] = {{out, in, k, k}, "F32"};
        m[p + ".bias"] = {{out}, "F32"};
    };
    auto bn = [&](const std::string& p, int64_t ch) {
        for (const char* n : {".weight", ".bias", ".running_mean", ".running_var"}) m[p + n] = {{ch}, "F32"};
        m[p + ".num_batches_tracked"] = {{}, "I64"};
    };
    int64_t in = c.in_channels;
    for (int64_t i = 0; i < c.depth; ++i) {
        const std::string p = "encoder.blocks." + std::to_string(i);
        const int64_t out = c.width(i), mid = out / c.mid_channels_factor;
        conv(p + ".conv1", mid, in, 3);
        bn(p + ".bn1", mid);
        conv(p + ".conv2", out, mid, 3);
        bn(p + ".bn2", out);
        in = out;
    }
    for (int64_t i = 0; i + 1 < c.depth; ++i) {
        const std::string p = "decoder.blocks." + std::to_string(i);
        const int64_t w = c.width(c.depth - 1 - i), h = w / 2;
        m[p + ".up.weight"] = {{w, h, 2, 2}, "F32"};  // transposed conv: (in, out, k, k)
        m[p + ".up.bias"] = {{h}, "F32"};
        conv(p + ".conv1", h, w, 3);
        bn(p + ".bn1", h);
        conv(p + ".conv2", h, h, 3);
        bn(p + ".bn2", h);
    }
    conv("head", c.out_channels, c.base_width, 1);
    return m;
}

/// The tensors of the file must be exactly those of the configured U-Net, shape for shape (dtypes may differ:
/// they are converted on loading). Checked before the network is built, so a small file whose metadata asks for a
/// huge network is refused at once instead of allocating (and initialising) gigabytes.
inline void check_model_tensors(const io::SafetensorsFile& f, const ModelInfo& m) {
    const auto want = unet_state_shapes(m.unet);
    for (const auto& [key, e] : want) {
        if (!f.contains(key))
            fail(f.path(), ": missing key '", key, "' (the U-Net of ichseg.unet needs shape ", to_string(e.shape), ")");
        const Shape& got = f.entry(key).shape;
        if (got != e.shape)
            fail(f.path(), ": key '", key, "' has shape ", to_string(got), " in the file but the U-Net of ichseg.unet "
                 "needs ", to_string(e.shape));
    }
    std::vector<std::string> extra;
    for (const auto& k : f.keys())
        if (!want.count(k)) extra.push_back(k);
    if (!extra.empty()) {
        std::string list;
        for (size_t i = 0; i < extra.size() && i < 5; ++i) list += (i ? ", '" : "'") + extra[i] + "'";
        if (extra.size() > 5) list += ", ... (" + std::to_string(extra.size()) + " in all)";
        fail(f.path(), ": unexpected keys not in the model: ", list);
    }
}

}  // namespace ichseg::nn
