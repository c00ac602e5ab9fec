/// @file checkpoint.hpp (train)
/// @brief Training-state checkpoints: model weights ("model." + state_dict key), Adam moments
/// ("optim.<param>.exp_avg" / ".exp_avg_sq") and the position (epoch, batch, learning rate, step count) in one
/// safetensors file, written atomically (temporary file + rename), so a kill at any moment leaves the last
/// complete checkpoint. The weights-only files used for transfer learning are written by nn::save_state_dict.
#pragma once

#include <string>
#include <sys/stat.h>

#include "ichseg/nn/checkpoint.hpp"
#include "ichseg/optim/adam.hpp"

namespace ichseg::train {

/// Where a run stands: the next batch to run is `batch` of epoch `epoch` (batch 0 = epoch start).
struct TrainPosition {
    int epoch = 0;
    int64_t batch = 0;
    double lr = 0;
    bool finished = false;
};

inline bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

template <class T>
void save_training_state(const std::string& path, const nn::Module<T>& model, optim::Adam<T>& opt,
                         const TrainPosition& pos, const std::map<std::string, std::string>& extra = {}) {
    io::SafetensorsWriter w;
    nn::add_state_dict(w, model, "model.");
    auto named = model.named_parameters();
    auto& state = opt.state();
    int64_t step = 0;
    for (size_t i = 0; i < named.size() && i < state.size(); ++i) {
        if (!state[i].m.defined()) continue;
        w.add("optim." + named[i].first + ".exp_avg", state[i].m);
        w.add("optim." + named[i].first + ".exp_avg_sq", state[i].v);
        step = std::max(step, state[i].step);
    }
    w.set_metadata("format", "ichseg-training-state");
    w.set_metadata("epoch", std::to_string(pos.epoch));
    w.set_metadata("batch", std::to_string(pos.batch));
    w.set_metadata("finished", pos.finished ? "1" : "0");
    char lr[64];
    std::snprintf(lr, sizeof lr, "%.17g", opt.lr());
    w.set_metadata("lr", lr);
    w.set_metadata("adam_step", std::to_string(step));
    for (auto& [k, v] : extra) w.set_metadata("extra." + k, v);
    w.write(path);
}

/// Restore a training state written by save_training_state into `model` and `opt` (built the same way).
/// Throws with the file name and the key when the checkpoint does not match the model.
template <class T>
TrainPosition load_training_state(const std::string& path, nn::Module<T>& model, optim::Adam<T>& opt) {
    const io::SafetensorsFile f = io::SafetensorsFile::read(path);
    auto meta = f.metadata();
    ICHSEG_CHECK(meta.count("format") && meta.at("format") == "ichseg-training-state", path,
                 ": not an ichseg training-state checkpoint (no format=ichseg-training-state metadata)");
    nn::load_state_dict(model, f, "model.", /*allow_extra_keys=*/true);
    auto named = model.named_parameters();
    auto& state = opt.state();
    const int64_t step = std::stoll(meta.at("adam_step"));
    for (size_t i = 0; i < named.size() && i < state.size(); ++i) {
        const std::string k = "optim." + named[i].first;
        if (!f.contains(k + ".exp_avg")) continue;
        state[i].m = f.get<T>(k + ".exp_avg");
        state[i].v = f.get<T>(k + ".exp_avg_sq");
        ICHSEG_CHECK(state[i].m.shape() == named[i].second.shape(), path, ": optimiser state '", k,
                     ".exp_avg' has shape ", to_string(state[i].m.shape()), " but the parameter has ",
                     to_string(named[i].second.shape()));
        state[i].step = step;
    }
    TrainPosition pos;
    pos.epoch = std::stoi(meta.at("epoch"));
    pos.batch = std::stoll(meta.at("batch"));
    pos.lr = std::stod(meta.at("lr"));
    pos.finished = meta.count("finished") && meta.at("finished") == "1";
    opt.set_lr(pos.lr);
    return pos;
}

}  // namespace ichseg::train
