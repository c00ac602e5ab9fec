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
///
/// Model files are untrusted input (users download them): `load_model` range-checks the metadata and compares
/// the file's tensors with the configuration (nn/model_info.hpp) before it builds the network.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ichseg/nn/checkpoint.hpp"
#include "ichseg/nn/model_info.hpp"
#include "ichseg/nn/unet.hpp"

namespace ichseg::nn {

/// Write a U-Net and its description atomically.
template <class T>
void save_model(const UNet<T>& net, const ModelInfo& info, const std::string& path) {
    ModelInfo m = info;
    m.unet = net.config();
    save_state_dict(net, path, model_metadata(m));
}

/// Rebuild the U-Net of a model file and load its weights (strict).
template <class T = float>
std::shared_ptr<UNet<T>> load_model(const std::string& path, ModelInfo* info = nullptr) {
    const io::SafetensorsFile f = io::SafetensorsFile::read(path);
    const ModelInfo m = read_model_info(f);
    check_model_tensors(f, m);  // before anything is allocated from the (untrusted) configuration
    auto net = std::make_shared<UNet<T>>(m.unet);
    load_state_dict(*net, f);
    net->eval();
    if (info) *info = m;
    return net;
}

}  // namespace ichseg::nn
