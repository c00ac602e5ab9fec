/// @file checkpoint.hpp (nn)
/// @brief Module weights to and from safetensors files with PyTorch state_dict keys.
///
///  - save_state_dict: every parameter (F32) and buffer (num_batches_tracked as I64), atomically.
///  - load_state_dict: strict; every key of the model must be in the file with the same shape and the file
///    may hold no other tensor. Everything is checked before anything is copied, so a failed load leaves the
///    model untouched. Errors name the file, the key and both shapes.
///  - load_matching: transfer learning; copies each tensor whose name and shape match and reports what was
///    copied, what was missing, what had another shape and what the file held beyond the model.
#pragma once

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "ichseg/io/safetensors.hpp"
#include "ichseg/nn/module.hpp"

namespace ichseg::nn {

namespace detail {
/// Every named tensor of a module: parameters, then buffers (with their file dtype).
template <class T>
std::vector<std::tuple<std::string, Tensor<T>*, const char*>> state_entries(const Module<T>& m) {
    std::vector<std::tuple<std::string, Tensor<T>*, const char*>> out;
    for (auto& [name, v] : m.named_parameters()) out.emplace_back(name, &v.impl().value, nullptr);
    for (auto& b : m.named_buffers()) out.emplace_back(b.name, b.tensor, b.file_dtype);
    return out;
}
}  // namespace detail

template <class T>
void add_state_dict(io::SafetensorsWriter& w, const Module<T>& m, const std::string& prefix = "") {
    for (auto& [name, t, dtype] : detail::state_entries(m)) w.add(prefix + name, *t, dtype ? dtype : "F32");
}

template <class T>
void save_state_dict(const Module<T>& m, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {}) {
    io::SafetensorsWriter w;
    add_state_dict(w, m);
    w.set_metadata("format", "pt");
    for (auto& [k, v] : metadata) w.set_metadata(k, v);
    w.write(path);
}

/// Strict load from an already-read file; `prefix` is prepended to the model's keys.
template <class T>
void load_state_dict(Module<T>& m, const io::SafetensorsFile& f, const std::string& prefix = "",
                     bool allow_extra_keys = false) {
    auto entries = detail::state_entries(m);
    std::vector<Tensor<T>> loaded;
    std::set<std::string> used;
    for (auto& [name, t, dtype] : entries) {
        const std::string key = prefix + name;
        if (!f.contains(key))
            fail(f.path(), ": missing key '", key, "' (the model expects shape ", to_string(t->shape()), ")");
        const auto& e = f.entry(key);
        if (e.shape != t->shape())
            fail(f.path(), ": key '", key, "' has shape ", to_string(e.shape), " in the file but ",
                 to_string(t->shape()), " in the model");
        loaded.push_back(f.get<T>(key));
        used.insert(key);
    }
    if (!allow_extra_keys) {
        std::vector<std::string> extra;
        for (auto& k : f.keys())
            if (!used.count(k) && k.compare(0, prefix.size(), prefix) == 0) extra.push_back(k);
        if (!extra.empty()) {
            std::ostringstream os;
            for (size_t i = 0; i < extra.size() && i < 5; ++i) os << (i ? ", " : "") << "'" << extra[i] << "'";
            if (extra.size() > 5) os << ", ... (" << extra.size() << " in all)";
            fail(f.path(), ": unexpected keys not in the model: ", os.str());
        }
    }
    NoGradGuard guard;
    for (size_t i = 0; i < entries.size(); ++i) std::get<1>(entries[i])->copy_(loaded[i].to(std::get<1>(entries[i])->device()));
}

template <class T>
void load_state_dict(Module<T>& m, const std::string& path) {
    load_state_dict(m, io::SafetensorsFile::read(path));
}

/// What a partial (transfer) load did.
struct TransferReport {
    std::vector<std::string> copied;
    std::vector<std::string> missing;        ///< model keys absent from the file
    std::vector<std::string> shape_mismatch; ///< "key: file [..] vs model [..]"
    std::vector<std::string> unused;         ///< file keys the model does not have
    std::string summary() const {
        std::ostringstream os;
        os << "copied " << copied.size() << " tensors, kept " << missing.size() << " model tensors absent from the "
           << "checkpoint, skipped " << shape_mismatch.size() << " with another shape, ignored " << unused.size()
           << " checkpoint tensors the model lacks";
        for (auto& s : shape_mismatch) os << "\n  shape mismatch: " << s;
        return os.str();
    }
};

/// Copy every tensor whose name and shape match (parameters and BN running statistics); nothing is frozen.
template <class T>
TransferReport load_matching(Module<T>& m, const io::SafetensorsFile& f) {
    TransferReport r;
    std::set<std::string> model_keys;
    NoGradGuard guard;
    for (auto& [name, t, dtype] : detail::state_entries(m)) {
        model_keys.insert(name);
        if (!f.contains(name)) {
            r.missing.push_back(name);
            continue;
        }
        const auto& e = f.entry(name);
        if (e.shape != t->shape()) {
            r.shape_mismatch.push_back(name + ": checkpoint " + to_string(e.shape) + " vs model " +
                                       to_string(t->shape()));
            continue;
        }
        t->copy_(f.get<T>(name).to(t->device()));
        r.copied.push_back(name);
    }
    for (auto& k : f.keys())
        if (!model_keys.count(k)) r.unused.push_back(k);
    return r;
}

template <class T>
TransferReport load_matching(Module<T>& m, const std::string& path) {
    return load_matching(m, io::SafetensorsFile::read(path));
}

}  // namespace ichseg::nn

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template void add_state_dict<float>(io::SafetensorsWriter&, const Module<float>&,
                                                           const std::string&);
ICHSEG_EXTERN_TEMPLATE template void save_state_dict<float>(const Module<float>&, const std::string&,
                                                            const std::map<std::string, std::string>&);
ICHSEG_EXTERN_TEMPLATE template void load_state_dict<float>(Module<float>&, const io::SafetensorsFile&,
                                                            const std::string&, bool);
ICHSEG_EXTERN_TEMPLATE template void load_state_dict<float>(Module<float>&, const std::string&);
ICHSEG_EXTERN_TEMPLATE template TransferReport load_matching<float>(Module<float>&, const io::SafetensorsFile&);
ICHSEG_EXTERN_TEMPLATE template TransferReport load_matching<float>(Module<float>&, const std::string&);
}  // namespace ichseg::nn
#endif
