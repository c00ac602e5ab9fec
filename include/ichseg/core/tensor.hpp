/// @file tensor.hpp
/// @brief `Tensor<T>`: a shape, strides and an offset into one reference-counted buffer on one device.
///
/// Copies of a Tensor share the buffer (like torch.Tensor); `clone()` copies the data. Views (`view`, `narrow`,
/// `operator[]`) share the buffer too. Most ops require contiguous inputs and say so when they are not.
/// Element access (`at`, `operator()`) is for CPU tensors; data moves between devices only through `to()`.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <vector>

#include "ichseg/core/allocator.hpp"
#include "ichseg/core/device.hpp"
#include "ichseg/core/dtype.hpp"
#include "ichseg/core/error.hpp"
#include "ichseg/core/shape.hpp"

namespace ichseg {

namespace detail {
/// One buffer on one device; frees itself.
struct Buffer {
    void* ptr = nullptr;
    std::size_t bytes = 0;
    Device device;
    Buffer(std::size_t n, Device d) : ptr(device_allocate(n, d)), bytes(n), device(d) {}
    ~Buffer() { device_deallocate(ptr, bytes == 0 ? 64 : bytes, device); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
};
}  // namespace detail

template <class T>
class Tensor {
public:
    using value_type = T;

    /// An undefined tensor (no buffer); `defined()` is false.
    Tensor() = default;

    /// Uninitialised contiguous tensor.
    static Tensor empty(const Shape& shape, Device dev = Device::cpu()) {
        for (int64_t d : shape) ICHSEG_CHECK(d >= 0, "Tensor::empty: negative extent in shape ", to_string(shape));
        Tensor t;
        t.buf_ = std::make_shared<detail::Buffer>(static_cast<std::size_t>(ichseg::numel(shape)) * sizeof(T), dev);
        t.shape_ = shape;
        t.strides_ = contiguous_strides(shape);
        return t;
    }
    static Tensor zeros(const Shape& shape, Device dev = Device::cpu()) {
        Tensor t = empty(shape, dev);
        device_zero(t.buf_->ptr, t.nbytes(), dev);
        return t;
    }
    static Tensor full(const Shape& shape, T value, Device dev = Device::cpu()) {
        Tensor t = empty(shape, Device::cpu());
        std::fill(t.data(), t.data() + t.numel(), value);
        return dev.is_cpu() ? t : t.to(dev);
    }
    /// A CPU tensor holding a copy of `values` (row-major); sizes must agree.
    static Tensor from_vector(const Shape& shape, const std::vector<T>& values) {
        ICHSEG_CHECK(static_cast<int64_t>(values.size()) == ichseg::numel(shape), "Tensor::from_vector: ",
                     values.size(), " values for shape ", to_string(shape));
        Tensor t = empty(shape);
        std::copy(values.begin(), values.end(), t.data());
        return t;
    }
    template <class U = T>
    static Tensor empty_like(const Tensor<U>& o) {
        return empty(o.shape(), o.device());
    }
    template <class U = T>
    static Tensor zeros_like(const Tensor<U>& o) {
        return zeros(o.shape(), o.device());
    }

    bool defined() const { return static_cast<bool>(buf_); }
    const Shape& shape() const { return shape_; }
    const Shape& strides() const { return strides_; }
    int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
    int64_t size(int64_t i) const {
        int64_t d = dim();
        if (i < 0) i += d;
        ICHSEG_CHECK(i >= 0 && i < d, "Tensor::size: dimension ", i, " out of range for shape ", to_string(shape_));
        return shape_[static_cast<size_t>(i)];
    }
    int64_t numel() const { return ichseg::numel(shape_); }
    std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * sizeof(T); }
    Device device() const { return buf_ ? buf_->device : Device::cpu(); }
    T* data() { return buf_ ? static_cast<T*>(buf_->ptr) + offset_ : nullptr; }
    const T* data() const { return buf_ ? static_cast<const T*>(buf_->ptr) + offset_ : nullptr; }
    /// True when two tensors share one buffer (views of each other).
    bool shares_buffer_with(const Tensor& o) const { return buf_ && buf_ == o.buf_; }
    /// True when no other tensor references this buffer, so it may be updated in place without aliasing.
    bool owns_buffer_exclusively() const { return buf_ && buf_.use_count() == 1; }

    bool is_contiguous() const {
        int64_t acc = 1;
        for (size_t i = shape_.size(); i-- > 0;) {
            if (shape_[i] != 1 && strides_[i] != acc) return false;
            acc *= shape_[i];
        }
        return true;
    }

    /// Same data with another shape; one extent may be -1. Requires a contiguous tensor.
    Tensor view(Shape s) const {
        ICHSEG_CHECK(defined(), "Tensor::view on an undefined tensor");
        ICHSEG_CHECK(is_contiguous(), "Tensor::view: tensor of shape ", to_string(shape_),
                     " is not contiguous; call contiguous() first");
        int64_t known = 1, infer = -1;
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == -1) {
                ICHSEG_CHECK(infer < 0, "Tensor::view: more than one -1 in ", to_string(s));
                infer = static_cast<int64_t>(i);
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) {
            ICHSEG_CHECK(known > 0 && numel() % known == 0, "Tensor::view: cannot view ", to_string(shape_), " as ",
                         to_string(s));
            s[static_cast<size_t>(infer)] = numel() / known;
        }
        ICHSEG_CHECK(ichseg::numel(s) == numel(), "Tensor::view: cannot view shape ", to_string(shape_), " (",
                     numel(), " elements) as ", to_string(s));
        Tensor t = *this;
        t.shape_ = s;
        t.strides_ = contiguous_strides(s);
        return t;
    }
    Tensor reshape(const Shape& s) const { return is_contiguous() ? view(s) : contiguous().view(s); }

    /// Elements [start, start+length) along dimension d, sharing the buffer.
    Tensor narrow(int64_t d, int64_t start, int64_t length) const {
        if (d < 0) d += dim();
        ICHSEG_CHECK(d >= 0 && d < dim(), "Tensor::narrow: dimension ", d, " out of range for ", to_string(shape_));
        ICHSEG_CHECK(start >= 0 && length >= 0 && start + length <= shape_[d], "Tensor::narrow: range [", start, ", ",
                     start + length, ") out of bounds for dimension ", d, " of ", to_string(shape_));
        Tensor t = *this;
        t.offset_ += start * strides_[d];
        t.shape_[d] = length;
        return t;
    }
    /// The i-th sub-tensor along dimension 0 (the leading dimension is dropped).
    Tensor operator[](int64_t i) const {
        ICHSEG_CHECK(dim() >= 1, "Tensor::operator[] on a scalar");
        Tensor t = narrow(0, i, 1);
        t.shape_.erase(t.shape_.begin());
        t.strides_.erase(t.strides_.begin());
        return t;
    }

    /// Bounds-checked element access on a CPU tensor.
    T& at(std::initializer_list<int64_t> idx) { return data_at(idx); }
    const T& at(std::initializer_list<int64_t> idx) const { return const_cast<Tensor*>(this)->data_at(idx); }
    /// Unchecked element access on a CPU tensor (any rank, indices in order).
    template <class... I>
    T& operator()(I... i) {
        return *(data() + flat_offset(0, static_cast<int64_t>(i)...));
    }
    template <class... I>
    const T& operator()(I... i) const {
        return *(data() + flat_offset(0, static_cast<int64_t>(i)...));
    }

    /// A contiguous tensor with the same values (this tensor itself when already contiguous).
    Tensor contiguous() const {
        if (!defined() || is_contiguous()) return *this;
        Tensor out = empty(shape_, device());
        out.copy_(*this);
        return out;
    }
    Tensor clone() const {
        Tensor out = empty(shape_, device());
        out.copy_(*this);
        return out;
    }
    /// This tensor on `dev`: itself when it is already there or undefined (no copy), else a contiguous copy.
    Tensor to(Device dev) const {
        if (!defined() || dev == device()) return *this;
        Tensor src = contiguous();
        Tensor out = empty(shape_, dev);
        device_copy(out.data(), dev, src.data(), src.device(), nbytes());
        return out;
    }

    /// Copy values from a tensor of the same shape (any strides on the CPU; contiguous across devices).
    void copy_(const Tensor& src) {
        ICHSEG_CHECK(src.shape() == shape_, "Tensor::copy_: shape ", to_string(src.shape()), " into ",
                     to_string(shape_));
        if (is_contiguous() && src.is_contiguous()) {
            device_copy(data(), device(), src.data(), src.device(), nbytes());
            return;
        }
        ICHSEG_CHECK(device().is_cpu() && src.device().is_cpu(), "Tensor::copy_: strided copies need CPU tensors");
        strided_copy(src);
    }
    void fill_(T v) {
        ICHSEG_CHECK(device().is_cpu() && is_contiguous(), "Tensor::fill_ needs a contiguous CPU tensor");
        std::fill(data(), data() + numel(), v);
    }
    void zero_() {
        ICHSEG_CHECK(is_contiguous(), "Tensor::zero_ needs a contiguous tensor");
        device_zero(data(), nbytes(), device());
    }
    std::vector<T> to_vector() const {
        Tensor c = to(Device::cpu()).contiguous();
        return std::vector<T>(c.data(), c.data() + c.numel());
    }
    template <class U>
    Tensor<U> cast() const {
        Tensor c = to(Device::cpu()).contiguous();
        Tensor<U> out = Tensor<U>::empty(shape_);
        for (int64_t i = 0; i < c.numel(); ++i) out.data()[i] = static_cast<U>(c.data()[i]);
        return device().is_cpu() ? out : out.to(device());
    }

private:
    std::shared_ptr<detail::Buffer> buf_;
    Shape shape_;
    Shape strides_;
    int64_t offset_ = 0;

    int64_t flat_offset(size_t) const { return 0; }
    template <class... I>
    int64_t flat_offset(size_t d, int64_t i, I... rest) const {
        return i * strides_[d] + flat_offset(d + 1, rest...);
    }
    T& data_at(std::initializer_list<int64_t> idx) {
        ICHSEG_CHECK(device().is_cpu(), "Tensor::at on a ", device().str(), " tensor; copy it to the CPU first");
        ICHSEG_CHECK(static_cast<int64_t>(idx.size()) == dim(), "Tensor::at: ", idx.size(),
                     " indices for a tensor of shape ", to_string(shape_));
        int64_t off = 0;
        size_t d = 0;
        for (int64_t i : idx) {
            ICHSEG_CHECK(i >= 0 && i < shape_[d], "Tensor::at: index ", i, " out of range for dimension ", d,
                         " of shape ", to_string(shape_));
            off += i * strides_[d++];
        }
        return data()[off];
    }
    void strided_copy(const Tensor& src) {
        const int64_t n = numel();
        std::vector<int64_t> idx(shape_.size(), 0);
        for (int64_t k = 0; k < n; ++k) {
            int64_t od = 0, os = 0;
            for (size_t d = 0; d < shape_.size(); ++d) {
                od += idx[d] * strides_[d];
                os += idx[d] * src.strides_[d];
            }
            data()[od] = src.data()[os];
            for (size_t d = shape_.size(); d-- > 0;) {
                if (++idx[d] < shape_[d]) break;
                idx[d] = 0;
            }
        }
    }
    template <class U>
    friend class Tensor;
};

/// "F32[2, 1, 256, 256] on cpu" for error messages.
template <class T>
std::string describe(const Tensor<T>& t) {
    if (!t.defined()) return "undefined tensor";
    return std::string(dtype_name<T>()) + to_string(t.shape()) + " on " + t.device().str();
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template class Tensor<float>;
ICHSEG_EXTERN_TEMPLATE template std::string describe<float>(const Tensor<float>&);
}  // namespace ichseg
#endif
