/// @file safetensors.hpp
/// @brief Reading and writing safetensors files (the checkpoint format shared with PyTorch).
///
/// Layout: [u64 little-endian N][N bytes of JSON header][data]. The header maps names to
/// {"dtype", "shape", "data_offsets": [begin, end)} relative to the data start, plus an optional
/// "__metadata__" string map. The reader validates everything the reference implementation does (header size,
/// JSON, duplicate names, dtype, offsets that tile the data exactly, file length) and every error names the
/// file and the offending tensor. The writer sorts tensors by decreasing dtype size then name, pads the header
/// with spaces to a multiple of 8 and replaces the target atomically (temporary file + rename).
#pragma once

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "ichseg/core/tensor.hpp"
#include "ichseg/io/atomic_file.hpp"

namespace ichseg::io {

/// Bytes per element of a safetensors dtype string; 0 for an unknown dtype.
inline int safetensors_dtype_size(const std::string& d) {
    static const std::map<std::string, int> sizes = {
        {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1}, {"I16", 2},
        {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},    {"U32", 4},     {"F32", 4},     {"F64", 8},
        {"I64", 8},  {"U64", 8}, {"C64", 8}};
    auto it = sizes.find(d);
    return it == sizes.end() ? 0 : it->second;
}

namespace detail {
inline float half_to_float(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal
            int e = -1;
            uint32_t m = man;
            do {
                ++e;
                m <<= 1;
            } while ((m & 0x400) == 0);
            bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

/// Element i of a little-endian buffer of dtype d, as double. Throws for dtypes without a numeric conversion.
inline double load_element(const std::string& d, const char* p, int64_t i) {
    auto rd = [&](auto tag) {
        decltype(tag) v;
        std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(v)), sizeof(v));
        return v;
    };
    if (d == "F32") return rd(float{});
    if (d == "F64") return rd(double{});
    if (d == "BF16") {
        bfloat16 b;
        b.bits = rd(uint16_t{});
        return static_cast<float>(b);
    }
    if (d == "F16") return half_to_float(rd(uint16_t{}));
    if (d == "I64") return static_cast<double>(rd(int64_t{}));
    if (d == "U64") return static_cast<double>(rd(uint64_t{}));
    if (d == "I32") return rd(int32_t{});
    if (d == "U32") return rd(uint32_t{});
    if (d == "I16") return rd(int16_t{});
    if (d == "U16") return rd(uint16_t{});
    if (d == "I8") return rd(int8_t{});
    if (d == "U8" || d == "BOOL") return rd(uint8_t{});
    fail("no numeric conversion from safetensors dtype ", d);
}

/// Append element v as dtype d (little-endian) to out.
inline void store_element(const std::string& d, double v, std::string& out) {
    auto wr = [&](auto x) { out.append(reinterpret_cast<const char*>(&x), sizeof(x)); };
    if (d == "F32") wr(static_cast<float>(v));
    else if (d == "F64") wr(v);
    else if (d == "BF16") wr(bfloat16(static_cast<float>(v)).bits);
    else if (d == "I64") wr(static_cast<int64_t>(v));
    else if (d == "I32") wr(static_cast<int32_t>(v));
    else if (d == "U8" || d == "BOOL") wr(static_cast<uint8_t>(v));
    else if (d == "I16") wr(static_cast<int16_t>(v));
    else fail("writing safetensors dtype ", d, " is not supported");
}
}  // namespace detail

struct SafetensorsEntry {
    std::string dtype;
    Shape shape;
    uint64_t begin = 0, end = 0;  ///< byte range within the data section
};

/// A safetensors file read into memory and validated.
class SafetensorsFile {
public:
    static SafetensorsFile read(const std::string& path) {
        std::ifstream f(path, std::ios::binary);
        if (!f) fail(path, ": cannot open safetensors file: ", std::strerror(errno));
        std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        return parse(path, std::move(bytes));
    }

    /// Validate and index an in-memory file image; `name` is used in error messages.
    static SafetensorsFile parse(const std::string& name, std::vector<char> bytes) {
        SafetensorsFile s;
        s.path_ = name;
        s.bytes_ = std::move(bytes);
        const uint64_t size = s.bytes_.size();
        if (size < 8)
            fail(name, ": truncated safetensors file (", size, " bytes; it must start with an 8-byte header length)");
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(s.bytes_[i]);
        if (n > 100000000ull) fail(name, ": bad safetensors header: header length ", n, " exceeds the 100 MB limit");
        if (n > size - 8)
            fail(name, ": truncated safetensors file: header length ", n, " but only ", size - 8,
                 " bytes follow the length field");
        s.data_start_ = 8 + n;
        const std::string header(s.bytes_.data() + 8, s.bytes_.data() + 8 + n);
        // Reject duplicate names (nlohmann silently keeps the last), via the parser callback.
        std::set<std::string> seen;
        std::string dup;
        auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
            if (depth == 1 && ev == nlohmann::json::parse_event_t::key) {
                const std::string k = parsed.get<std::string>();
                if (!seen.insert(k).second && dup.empty()) dup = k;
            }
            return true;
        };
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(header, cb);
        } catch (const std::exception& e) {
            fail(name, ": bad safetensors header: not valid JSON (", e.what(), ")");
        }
        if (!dup.empty()) fail(name, ": bad safetensors header: duplicate tensor name '", dup, "'");
        if (!j.is_object()) fail(name, ": bad safetensors header: expected a JSON object");
        std::vector<std::pair<uint64_t, std::string>> order;
        for (auto it = j.begin(); it != j.end(); ++it) {
            const std::string& key = it.key();
            const auto& v = it.value();
            if (key == "__metadata__") {
                if (!v.is_object()) fail(name, ": bad safetensors header: __metadata__ must be an object");
                for (auto m = v.begin(); m != v.end(); ++m) {
                    if (!m.value().is_string())
                        fail(name, ": bad safetensors header: __metadata__ value '", m.key(), "' is not a string");
                    s.metadata_[m.key()] = m.value().get<std::string>();
                }
                continue;
            }
            SafetensorsEntry e;
            try {
                if (!v.is_object()) throw std::runtime_error("entry is not an object");
                e.dtype = v.at("dtype").get<std::string>();
                if (!v.at("shape").is_array()) throw std::runtime_error("shape must be an array");
                for (const auto& d : v.at("shape")) {
                    if (!d.is_number_integer() || d.get<int64_t>() < 0)
                        throw std::runtime_error("shape must hold non-negative integers");
                    e.shape.push_back(d.get<int64_t>());
                }
                const auto& off = v.at("data_offsets");
                if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
                    throw std::runtime_error("data_offsets must be two non-negative integers");
                e.begin = off[0].get<uint64_t>();
                e.end = off[1].get<uint64_t>();
            } catch (const std::exception& ex) {
                fail(name, ": bad safetensors header: tensor '", key, "': ", ex.what());
            }
            const int es = safetensors_dtype_size(e.dtype);
            if (es == 0) fail(name, ": bad safetensors header: tensor '", key, "' has unknown dtype '", e.dtype, "'");
            if (e.end < e.begin)
                fail(name, ": bad safetensors header: tensor '", key, "' has data_offsets [", e.begin, ", ", e.end,
                     ") with end before begin");
            // Byte size, refusing shapes whose size does not fit in 64 bits (it would wrap and pass the check).
            uint64_t need = static_cast<uint64_t>(es);
            for (int64_t d : e.shape) {
                if (d != 0 && need > UINT64_MAX / static_cast<uint64_t>(d))
                    fail(name, ": bad safetensors header: tensor '", key, "' has shape ", ichseg::to_string(e.shape),
                         " whose size overflows 64 bits");
                need *= static_cast<uint64_t>(d);
            }
            if (need / static_cast<uint64_t>(es) > static_cast<uint64_t>(INT64_MAX))
                fail(name, ": bad safetensors header: tensor '", key, "' has shape ", ichseg::to_string(e.shape),
                     " with more than 2^63 elements");
            if (e.end - e.begin != need)
                fail(name, ": bad safetensors header: tensor '", key, "' (", e.dtype, ichseg::to_string(e.shape), ") needs ",
                     need, " bytes but data_offsets [", e.begin, ", ", e.end, ") hold ", e.end - e.begin);
            order.emplace_back(e.begin, key);
            s.entries_[key] = e;
        }
        // By (begin, end, name): a zero-length tensor sorts before a tensor that starts at the same offset.
        std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
            const auto &ea = s.entries_[a.second], &eb = s.entries_[b.second];
            return std::tie(ea.begin, ea.end, a.second) < std::tie(eb.begin, eb.end, b.second);
        });
        uint64_t pos = 0;
        for (auto& [b, key] : order) {
            const auto& e = s.entries_[key];
            if (e.begin != pos)
                fail(name, ": bad safetensors header: tensor '", key, "' starts at byte ", e.begin, " of the data but ",
                     pos, " was expected (tensors must tile the data section)");
            pos = e.end;
        }
        if (pos != size - s.data_start_)  // (no overflow: data_start_ <= size was checked above)
            fail(name, pos > size - s.data_start_ ? ": truncated safetensors file: tensors need " : ": safetensors file has ",
                 pos, " bytes of tensor data but the file holds ", size - s.data_start_, " after the header");
        return s;
    }

    const std::string& path() const { return path_; }
    bool contains(const std::string& key) const { return entries_.count(key) > 0; }
    std::vector<std::string> keys() const {
        std::vector<std::string> k;
        for (auto& e : entries_) k.push_back(e.first);
        return k;
    }
    const SafetensorsEntry& entry(const std::string& key) const {
        auto it = entries_.find(key);
        if (it == entries_.end()) fail(path_, ": no tensor named '", key, "'");
        return it->second;
    }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    /// The tensor `key` converted to element type T (any numeric stored dtype).
    template <class T>
    Tensor<T> get(const std::string& key) const {
        const SafetensorsEntry& e = entry(key);
        Tensor<T> t = Tensor<T>::empty(e.shape);
        const char* p = bytes_.data() + data_start_ + e.begin;
        if (e.dtype == dtype_name<T>()) {
            std::memcpy(t.data(), p, e.end - e.begin);
            return t;
        }
        try {
            for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(detail::load_element(e.dtype, p, i));
        } catch (const Error& ex) {
            fail(path_, ": tensor '", key, "': ", ex.what());
        }
        return t;
    }

private:
    std::string path_;
    std::vector<char> bytes_;
    uint64_t data_start_ = 0;
    std::map<std::string, SafetensorsEntry> entries_;
    std::map<std::string, std::string> metadata_;
};

/// Collects tensors and writes one safetensors file.
class SafetensorsWriter {
public:
    /// Add a CPU or CUDA tensor; `dtype` (e.g. "I64", "BF16") converts on write, default: T's own dtype.
    template <class T>
    void add(const std::string& name, const Tensor<T>& t, const char* dtype = nullptr) {
        ICHSEG_CHECK(!name.empty() && name != "__metadata__", "safetensors: invalid tensor name '", name, "'");
        ICHSEG_CHECK(!items_.count(name), "safetensors: tensor '", name, "' added twice");
        Item it;
        it.dtype = dtype ? dtype : dtype_name<T>();
        it.shape = t.shape();
        Tensor<T> c = t.to(Device::cpu()).contiguous();
        if (it.dtype == dtype_name<T>()) {
            it.bytes.assign(reinterpret_cast<const char*>(c.data()), c.nbytes());
        } else {
            it.bytes.reserve(static_cast<size_t>(c.numel()) * safetensors_dtype_size(it.dtype));
            for (int64_t i = 0; i < c.numel(); ++i) detail::store_element(it.dtype, static_cast<double>(c.data()[i]), it.bytes);
        }
        items_[name] = std::move(it);
    }
    void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

    /// Serialise to bytes (header + data).
    std::string serialize() const {
        std::vector<std::string> names;
        for (auto& i : items_) names.push_back(i.first);
        std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
            const int sa = safetensors_dtype_size(items_.at(a).dtype), sb = safetensors_dtype_size(items_.at(b).dtype);
            return sa != sb ? sa > sb : a < b;
        });
        nlohmann::ordered_json h = nlohmann::ordered_json::object();
        if (!metadata_.empty()) h["__metadata__"] = metadata_;
        uint64_t off = 0;
        for (auto& n : names) {
            const Item& it = items_.at(n);
            h[n] = {{"dtype", it.dtype}, {"shape", it.shape}, {"data_offsets", {off, off + it.bytes.size()}}};
            off += it.bytes.size();
        }
        std::string hs = h.dump();
        while (hs.size() % 8) hs.push_back(' ');
        std::string out;
        out.reserve(8 + hs.size() + off);
        uint64_t n = hs.size();
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
        out += hs;
        for (auto& nm : names) out += items_.at(nm).bytes;
        return out;
    }
    /// Write atomically: a crash leaves either the old file or the complete new one.
    void write(const std::string& path) const { write_file_atomic(path, serialize()); }

private:
    struct Item {
        std::string dtype;
        Shape shape;
        std::string bytes;
    };
    std::map<std::string, Item> items_;
    std::map<std::string, std::string> metadata_;
};

}  // namespace ichseg::io
