/// @file dynlib.cuh
/// @brief Run-time loading of optional vendor libraries (cuDNN, cuBLAS): the first of an environment override
/// and a list of sonames that dlopen accepts; symbols resolved once. A missing library is an error only when a
/// caller asks for that backend, and the message says what was tried.
#pragma once

#include <dlfcn.h>

#include <cstdlib>
#include <initializer_list>
#include <mutex>
#include <string>

#include "ichseg/core/error.hpp"

namespace ichseg::cuda::detail {

class DynLib {
public:
    /// Open once; returns whether it worked. `env` names a variable holding an explicit path.
    bool open(const char* env, std::initializer_list<const char*> names) {
        std::call_once(once_, [&] {
            std::string tried;
            if (const char* p = std::getenv(env)) {
                handle_ = dlopen(p, RTLD_NOW | RTLD_LOCAL);
                tried += std::string(p) + (handle_ ? "" : std::string(" (") + dlerror() + ")");
            }
            for (const char* n : names) {
                if (handle_) break;
                handle_ = dlopen(n, RTLD_NOW | RTLD_LOCAL);
                if (!handle_) tried += std::string(tried.empty() ? "" : ", ") + n + " (" + dlerror() + ")";
            }
            if (!handle_)
                why_ = "could not load any of: " + tried + "; set " + env +
                       " to the library's path or add its folder to LD_LIBRARY_PATH";
        });
        return handle_ != nullptr;
    }
    const std::string& why() const { return why_; }
    template <class F>
    F symbol(const char* name) const {
        void* s = dlsym(handle_, name);
        ICHSEG_CHECK(s, "symbol ", name, " not found in the loaded library (", dlerror(), ")");
        return reinterpret_cast<F>(s);
    }

private:
    std::once_flag once_;
    void* handle_ = nullptr;
    std::string why_;
};

}  // namespace ichseg::cuda::detail
