/// @file model_file.hpp (nn)
/// @brief Self-describing model files: a U-Net's weights (PyTorch state_dict keys, safetensors) plus, in the
/// file's metadata, everything needed to rebuild and use it: the network configuration and the preprocessing
/// (HU window, input size) and what the model segments. Written by the study, read by prediction.
///
/// Metadata keys: "ichseg.model" = "UNet"; "ichseg.unet" = JSON {in_channels, out_channels, base_width, depth,
/// mid_channels_factor, output_sigmoid}; "ichseg.window" = JSON [lo, hi] in HU; "ichseg.input_size" = pixels of
/// the square network input; "ichseg.target" = "ich" | "cavity" (free text allowed); "ichseg.description".
/// A PyTorch user loads the same file with safetensors.torch.load_file into
/// benchmarks/reference/ichseg_torch.py's UNet(**json.loads(metadata["ichseg.unet"])).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ichseg/nn/checkpoint.hpp"
#include "ichseg/nn/unet.hpp"

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

/// Write a U-Net and its description atomically.
template <class T>
void save_model(const UNet<T>& net, const ModelInfo& info, const std::string& path) {
    ModelInfo m = info;
    m.unet = net.config();
    save_state_dict(net, path, model_metadata(m));
}

/// Read the description of a model file (throws naming the file and the key when it is not one).
inline ModelInfo read_model_info(const io::SafetensorsFile& f) {
    const auto& md = f.metadata();
    auto need = [&](const char* k) -> const std::string& {
        auto it = md.find(k);
        if (it == md.end()) fail(f.path(), ": not an ichseg model file (metadata key '", k, "' is missing)");
        return it->second;
    };
    ICHSEG_CHECK(need("ichseg.model") == "UNet", f.path(), ": unsupported model type '", need("ichseg.model"), "'");
    ModelInfo m;
    try {
        const auto u = nlohmann::json::parse(need("ichseg.unet"));
        m.unet.in_channels = u.at("in_channels").get<int64_t>();
        m.unet.out_channels = u.at("out_channels").get<int64_t>();
        m.unet.base_width = u.at("base_width").get<int64_t>();
        m.unet.depth = u.at("depth").get<int64_t>();
        m.unet.mid_channels_factor = u.at("mid_channels_factor").get<int64_t>();
        m.unet.output_sigmoid = u.value("sigmoid", true);
        const auto w = nlohmann::json::parse(need("ichseg.window"));
        m.window_lo = w.at(0).get<double>();
        m.window_hi = w.at(1).get<double>();
        m.input_size = std::stoll(need("ichseg.input_size"));
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        fail(f.path(), ": malformed model metadata (", e.what(), ")");
    }
    m.target = md.count("ichseg.target") ? md.at("ichseg.target") : "ich";
    m.description = md.count("ichseg.description") ? md.at("ichseg.description") : "";
    m.unet.validate();
    ICHSEG_CHECK(m.window_hi > m.window_lo && m.input_size > 0, f.path(), ": invalid window or input size");
    return m;
}

/// Rebuild the U-Net of a model file and load its weights (strict).
template <class T = float>
std::shared_ptr<UNet<T>> load_model(const std::string& path, ModelInfo* info = nullptr) {
    const io::SafetensorsFile f = io::SafetensorsFile::read(path);
    const ModelInfo m = read_model_info(f);
    auto net = std::make_shared<UNet<T>>(m.unet);
    load_state_dict(*net, f);
    net->eval();
    if (info) *info = m;
    return net;
}

}  // namespace ichseg::nn
