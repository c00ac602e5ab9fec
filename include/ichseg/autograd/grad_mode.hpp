/// @file grad_mode.hpp
/// @brief Whether ops record the tape (per thread), and the RAII guard that turns recording off.
#pragma once

namespace ichseg {

namespace detail {
inline bool& grad_mode_flag() {
    thread_local bool enabled = true;
    return enabled;
}
}  // namespace detail

/// True when ops called on this thread record backward nodes.
inline bool grad_enabled() { return detail::grad_mode_flag(); }

/// Inside its scope no op records a backward node (evaluation, optimiser updates).
class NoGradGuard {
public:
    NoGradGuard() : prev_(detail::grad_mode_flag()) { detail::grad_mode_flag() = false; }
    ~NoGradGuard() { detail::grad_mode_flag() = prev_; }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool prev_;
};

}  // namespace ichseg
