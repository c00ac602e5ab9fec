/// @file golden.hpp (tests)
/// @brief Access to the committed PyTorch golden values in tests/golden/*.safetensors (written by
/// tests/golden/gen_golden.py). Inputs are stored as F32; expected values of the op/loss files as F64 (computed
/// by PyTorch in float64 from the float32 inputs), so the same file checks ichseg<float> and ichseg<double>.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "ichseg/io/safetensors.hpp"

namespace ichseg::test {

inline std::string golden_path(const std::string& name) {
    return std::string(ICHSEG_TEST_DATA_DIR) + "/" + name + ".safetensors";
}

/// The golden file `name` (without extension), read once per process.
inline const io::SafetensorsFile& golden(const std::string& name) {
    static std::map<std::string, std::unique_ptr<io::SafetensorsFile>> cache;
    auto it = cache.find(name);
    if (it == cache.end())
        it = cache.emplace(name, std::make_unique<io::SafetensorsFile>(io::SafetensorsFile::read(golden_path(name))))
                 .first;
    return *it->second;
}

/// Tensor `key` of golden file `file`, converted to T.
template <class T>
Tensor<T> gold(const std::string& file, const std::string& key) {
    return golden(file).get<T>(key);
}

}  // namespace ichseg::test
