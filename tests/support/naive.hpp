/// @file naive.hpp (tests)
/// @brief Naive-loop reference implementations of every op and loss, written straight from the defining
/// formulas (docs/ops.md) with no blocking, no GEMM and no algebraic rearrangement, accumulating in double.
/// Results are returned as Tensor<T>. With small-integer inputs every partial sum of the linear ops is exact in
/// float, so those references equal any correct implementation bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "ichseg/core/tensor.hpp"

namespace ichseg::test::naive {

struct Conv {
    int64_t sh = 1, sw = 1, ph = 0, pw = 0;
};

inline int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p) { return (in + 2 * p - k) / s + 1; }

/// y[n,k,p,q] = b[k] + sum_{c,r,s} w[k,c,r,s] x[n,c,p*sh-ph+r,q*sw-pw+s]
template <class T>
Tensor<T> conv2d(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b, Conv p) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0), R = w.size(2),
                  S = w.size(3);
    const int64_t P = conv_out(H, R, p.sh, p.ph), Q = conv_out(W, S, p.sw, p.pw);
    Tensor<T> y = Tensor<T>::empty({N, K, P, Q});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
            for (int64_t i = 0; i < P; ++i)
                for (int64_t j = 0; j < Q; ++j) {
                    double s = b.defined() ? static_cast<double>(b(k)) : 0.0;
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t r = 0; r < R; ++r)
                            for (int64_t t = 0; t < S; ++t) {
                                const int64_t ih = i * p.sh - p.ph + r, iw = j * p.sw - p.pw + t;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    s += static_cast<double>(w(k, c, r, t)) * static_cast<double>(x(n, c, ih, iw));
                            }
                    y(n, k, i, j) = static_cast<T>(s);
                }
    return y;
}

/// dx[n,c,h,w] = sum over the (k,p,q,r,s) that read x[n,c,h,w] of w[k,c,r,s] dy[n,k,p,q]
template <class T>
Tensor<T> conv2d_dx(const Tensor<T>& dy, const Tensor<T>& w, const Shape& xs, Conv p) {
    std::vector<double> acc(static_cast<size_t>(numel(xs)), 0.0);
    const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], K = w.size(0), R = w.size(2), S = w.size(3);
    const int64_t P = dy.size(2), Q = dy.size(3);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
            for (int64_t i = 0; i < P; ++i)
                for (int64_t j = 0; j < Q; ++j)
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t r = 0; r < R; ++r)
                            for (int64_t t = 0; t < S; ++t) {
                                const int64_t ih = i * p.sh - p.ph + r, iw = j * p.sw - p.pw + t;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    acc[static_cast<size_t>(((n * C + c) * H + ih) * W + iw)] +=
                                        static_cast<double>(w(k, c, r, t)) * static_cast<double>(dy(n, k, i, j));
                            }
    Tensor<T> dx = Tensor<T>::empty(xs);
    for (int64_t i = 0; i < dx.numel(); ++i) dx.data()[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
    return dx;
}

/// dw[k,c,r,s] = sum_{n,p,q} dy[n,k,p,q] x[n,c,p*sh-ph+r,q*sw-pw+s]
template <class T>
Tensor<T> conv2d_dw(const Tensor<T>& dy, const Tensor<T>& x, const Shape& ws, Conv p) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = ws[0], R = ws[2], S = ws[3];
    const int64_t P = dy.size(2), Q = dy.size(3);
    Tensor<T> dw = Tensor<T>::empty(ws);
    for (int64_t k = 0; k < K; ++k)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t r = 0; r < R; ++r)
                for (int64_t t = 0; t < S; ++t) {
                    double s = 0;
                    for (int64_t n = 0; n < N; ++n)
                        for (int64_t i = 0; i < P; ++i)
                            for (int64_t j = 0; j < Q; ++j) {
                                const int64_t ih = i * p.sh - p.ph + r, iw = j * p.sw - p.pw + t;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    s += static_cast<double>(dy(n, k, i, j)) * static_cast<double>(x(n, c, ih, iw));
                            }
                    dw(k, c, r, t) = static_cast<T>(s);
                }
    return dw;
}

/// db[k] = sum_{n,p,q} dy[n,k,p,q] (also the bias gradient of the transposed convolution)
template <class T>
Tensor<T> channel_sum(const Tensor<T>& dy) {
    const int64_t N = dy.size(0), K = dy.size(1), P = dy.size(2), Q = dy.size(3);
    Tensor<T> db = Tensor<T>::empty({K});
    for (int64_t k = 0; k < K; ++k) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < P; ++i)
                for (int64_t j = 0; j < Q; ++j) s += static_cast<double>(dy(n, k, i, j));
        db(k) = static_cast<T>(s);
    }
    return db;
}

/// Transposed convolution by scattering: y[n,o,h*s-p+r,w*s-p+t] += x[n,i,h,w] w[i,o,r,t]; w is (Cin,Cout,R,S).
template <class T>
Tensor<T> conv_transpose2d(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b, int64_t s, int64_t p,
                           int64_t op) {
    const int64_t N = x.size(0), Ci = x.size(1), H = x.size(2), W = x.size(3), Co = w.size(1), R = w.size(2),
                  S = w.size(3);
    const int64_t Ho = (H - 1) * s - 2 * p + R + op, Wo = (W - 1) * s - 2 * p + S + op;
    std::vector<double> acc(static_cast<size_t>(N * Co * Ho * Wo), 0.0);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < Co; ++o)
            for (int64_t i = 0; i < Ho * Wo; ++i)
                acc[static_cast<size_t>((n * Co + o) * Ho * Wo + i)] = b.defined() ? static_cast<double>(b(o)) : 0.0;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < Ci; ++c)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t ww = 0; ww < W; ++ww)
                    for (int64_t o = 0; o < Co; ++o)
                        for (int64_t r = 0; r < R; ++r)
                            for (int64_t t = 0; t < S; ++t) {
                                const int64_t oh = h * s - p + r, ow = ww * s - p + t;
                                if (oh >= 0 && oh < Ho && ow >= 0 && ow < Wo)
                                    acc[static_cast<size_t>(((n * Co + o) * Ho + oh) * Wo + ow)] +=
                                        static_cast<double>(x(n, c, h, ww)) * static_cast<double>(w(c, o, r, t));
                            }
    Tensor<T> y = Tensor<T>::empty({N, Co, Ho, Wo});
    for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
    return y;
}

/// dx[n,i,h,w] = sum_{o,r,t} dy[n,o,h*s-p+r,w*s-p+t] w[i,o,r,t]
template <class T>
Tensor<T> conv_transpose2d_dx(const Tensor<T>& dy, const Tensor<T>& w, const Shape& xs, int64_t s, int64_t p) {
    const int64_t N = xs[0], Ci = xs[1], H = xs[2], W = xs[3], Co = w.size(1), R = w.size(2), S = w.size(3);
    const int64_t Ho = dy.size(2), Wo = dy.size(3);
    Tensor<T> dx = Tensor<T>::empty(xs);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < Ci; ++c)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t ww = 0; ww < W; ++ww) {
                    double acc = 0;
                    for (int64_t o = 0; o < Co; ++o)
                        for (int64_t r = 0; r < R; ++r)
                            for (int64_t t = 0; t < S; ++t) {
                                const int64_t oh = h * s - p + r, ow = ww * s - p + t;
                                if (oh >= 0 && oh < Ho && ow >= 0 && ow < Wo)
                                    acc += static_cast<double>(dy(n, o, oh, ow)) * static_cast<double>(w(c, o, r, t));
                            }
                    dx(n, c, h, ww) = static_cast<T>(acc);
                }
    return dx;
}

/// dw[i,o,r,t] = sum_{n,h,w} x[n,i,h,w] dy[n,o,h*s-p+r,w*s-p+t]
template <class T>
Tensor<T> conv_transpose2d_dw(const Tensor<T>& dy, const Tensor<T>& x, const Shape& ws, int64_t s, int64_t p) {
    const int64_t N = x.size(0), Ci = ws[0], H = x.size(2), W = x.size(3), Co = ws[1], R = ws[2], S = ws[3];
    const int64_t Ho = dy.size(2), Wo = dy.size(3);
    Tensor<T> dw = Tensor<T>::empty(ws);
    for (int64_t c = 0; c < Ci; ++c)
        for (int64_t o = 0; o < Co; ++o)
            for (int64_t r = 0; r < R; ++r)
                for (int64_t t = 0; t < S; ++t) {
                    double acc = 0;
                    for (int64_t n = 0; n < N; ++n)
                        for (int64_t h = 0; h < H; ++h)
                            for (int64_t ww = 0; ww < W; ++ww) {
                                const int64_t oh = h * s - p + r, ow = ww * s - p + t;
                                if (oh >= 0 && oh < Ho && ow >= 0 && ow < Wo)
                                    acc += static_cast<double>(x(n, c, h, ww)) * static_cast<double>(dy(n, o, oh, ow));
                            }
                    dw(c, o, r, t) = static_cast<T>(acc);
                }
    return dw;
}

/// Batch-norm forward and backward from the textbook formulas (Ioffe & Szegedy 2015), all in double.
template <class T>
struct BatchNormResult {
    Tensor<T> y, dx, dgamma, dbeta, running_mean, running_var;
};
template <class T>
BatchNormResult<T> batchnorm2d(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                               const Tensor<T>& rm0, const Tensor<T>& rv0, bool training, bool relu,
                               const Tensor<T>& dy, double eps = 1e-5, double momentum = 0.1) {
    const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3), M = N * HW;
    BatchNormResult<T> r{Tensor<T>::empty(x.shape()), Tensor<T>::empty(x.shape()), Tensor<T>::empty({C}),
                         Tensor<T>::empty({C}),        rm0.clone(),                 rv0.clone()};
    auto at = [&](const Tensor<T>& t, int64_t n, int64_t c, int64_t i) {
        return static_cast<double>(t.data()[(n * C + c) * HW + i]);
    };
    for (int64_t c = 0; c < C; ++c) {
        double mean = 0, var = 0;
        if (training) {
            for (int64_t n = 0; n < N; ++n)
                for (int64_t i = 0; i < HW; ++i) mean += at(x, n, c, i);
            mean /= M;
            for (int64_t n = 0; n < N; ++n)
                for (int64_t i = 0; i < HW; ++i) var += (at(x, n, c, i) - mean) * (at(x, n, c, i) - mean);
            var /= M;
            r.running_mean(c) = static_cast<T>((1 - momentum) * rm0(c) + momentum * mean);
            r.running_var(c) = static_cast<T>((1 - momentum) * rv0(c) + momentum * var * M / (M - 1));
        } else {
            mean = rm0(c);
            var = rv0(c);
        }
        const double invstd = 1 / std::sqrt(var + eps), g = gamma(c), b = beta(c);
        // forward, and the upstream gradient through the optional ReLU
        std::vector<double> d(static_cast<size_t>(M)), xhat(static_cast<size_t>(M));
        double sum_d = 0, sum_dxhat = 0;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < HW; ++i) {
                const size_t k = static_cast<size_t>(n * HW + i);
                xhat[k] = (at(x, n, c, i) - mean) * invstd;
                double y = g * xhat[k] + b;
                double dd = at(dy, n, c, i);
                if (relu && !(y > 0)) dd = 0;
                if (relu) y = std::max(y, 0.0);
                r.y.data()[(n * C + c) * HW + i] = static_cast<T>(y);
                d[k] = dd;
                sum_d += dd;
                sum_dxhat += dd * xhat[k];
            }
        r.dgamma(c) = static_cast<T>(sum_dxhat);
        r.dbeta(c) = static_cast<T>(sum_d);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < HW; ++i) {
                const size_t k = static_cast<size_t>(n * HW + i);
                const double dx = training ? g * invstd / M * (M * d[k] - sum_d - xhat[k] * sum_dxhat)
                                           : g * invstd * d[k];
                r.dx.data()[(n * C + c) * HW + i] = static_cast<T>(dx);
            }
    }
    return r;
}

/// 2x2 (k x k, stride s) max pooling: value and the index (within the input plane) of the first maximum.
template <class T>
std::pair<Tensor<T>, Tensor<T>> max_pool2d(const Tensor<T>& x, const Tensor<T>& dy, int64_t k = 2, int64_t s = 2) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t P = (H - k) / s + 1, Q = (W - k) / s + 1;
    Tensor<T> y = Tensor<T>::empty({N, C, P, Q}), dx = Tensor<T>::zeros(x.shape());
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < P; ++i)
                for (int64_t j = 0; j < Q; ++j) {
                    int64_t bi = i * s, bj = j * s;
                    for (int64_t r = 0; r < k; ++r)
                        for (int64_t t = 0; t < k; ++t)
                            if (x(n, c, i * s + r, j * s + t) > x(n, c, bi, bj)) {
                                bi = i * s + r;
                                bj = j * s + t;
                            }
                    y(n, c, i, j) = x(n, c, bi, bj);
                    if (dy.defined()) dx(n, c, bi, bj) += dy(n, c, i, j);
                }
    return {y, dx};
}

/// y[b,o] = bias[o] + sum_i x[b,i] w[o,i]
template <class T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
    const int64_t B = x.size(0), I = x.size(1), O = w.size(0);
    Tensor<T> y = Tensor<T>::empty({B, O});
    for (int64_t n = 0; n < B; ++n)
        for (int64_t o = 0; o < O; ++o) {
            double s = b.defined() ? static_cast<double>(b(o)) : 0.0;
            for (int64_t i = 0; i < I; ++i) s += static_cast<double>(x(n, i)) * static_cast<double>(w(o, i));
            y(n, o) = static_cast<T>(s);
        }
    return y;
}

/// Plain matrix product (M,K) x (K,N) -> (M,N), optionally transposing either operand first.
template <class T>
Tensor<T> matmul(const Tensor<T>& a, bool ta, const Tensor<T>& b, bool tb) {
    const int64_t M = ta ? a.size(1) : a.size(0), K = ta ? a.size(0) : a.size(1), N = tb ? b.size(0) : b.size(1);
    Tensor<T> c = Tensor<T>::empty({M, N});
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k)
                s += static_cast<double>(ta ? a(k, i) : a(i, k)) * static_cast<double>(tb ? b(j, k) : b(k, j));
            c(i, j) = static_cast<T>(s);
        }
    return c;
}

/// Mean over H, W of each (n, c) plane.
template <class T>
Tensor<T> global_avg_pool(const Tensor<T>& x) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    Tensor<T> y = Tensor<T>::empty({N, C});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) {
            double s = 0;
            for (int64_t i = 0; i < H; ++i)
                for (int64_t j = 0; j < W; ++j) s += x(n, c, i, j);
            y(n, c) = static_cast<T>(s / static_cast<double>(H * W));
        }
    return y;
}

/// Softmax over the last dimension, in double.
template <class T>
Tensor<T> softmax(const Tensor<T>& x) {
    const int64_t K = x.size(-1), rows = x.numel() / K;
    Tensor<T> y = Tensor<T>::empty(x.shape());
    for (int64_t r = 0; r < rows; ++r) {
        double m = -INFINITY, s = 0;
        for (int64_t k = 0; k < K; ++k) m = std::max(m, static_cast<double>(x.data()[r * K + k]));
        for (int64_t k = 0; k < K; ++k) s += std::exp(x.data()[r * K + k] - m);
        for (int64_t k = 0; k < K; ++k) y.data()[r * K + k] = static_cast<T>(std::exp(x.data()[r * K + k] - m) / s);
    }
    return y;
}

/// Soft Dice (SPEC §4) value: per sample 1 - (2 sum p t + eps) / (sum p^2 + sum t^2 + eps), weighted by alpha
/// when the target is empty, summed and divided by B. Gradient by the closed form of docs/ops.md.
template <class T>
std::pair<double, Tensor<T>> dice(const Tensor<T>& p, const Tensor<T>& t, double eps, double alpha) {
    const int64_t B = p.size(0), M = p.numel() / B;
    double loss = 0;
    Tensor<T> g = Tensor<T>::empty(p.shape());
    for (int64_t b = 0; b < B; ++b) {
        double I = 0, P2 = 0, T2 = 0, Ts = 0;
        for (int64_t i = 0; i < M; ++i) {
            const double pv = p.data()[b * M + i], tv = t.data()[b * M + i];
            I += pv * tv;
            P2 += pv * pv;
            T2 += tv * tv;
            Ts += tv;
        }
        const double w = Ts == 0 ? alpha : 1.0, S = P2 + T2 + eps, num = 2 * I + eps;
        loss += w * (1 - num / S);
        for (int64_t i = 0; i < M; ++i) {
            const double pv = p.data()[b * M + i], tv = t.data()[b * M + i];
            g.data()[b * M + i] = static_cast<T>(w / B * (2 * pv * num / (S * S) - 2 * tv / S));
        }
    }
    return {loss / B, g};
}

/// NT-Xent value: l_i = -log( exp(s_i,pos) / sum_{j != i} exp(s_ij) ), s = cos / tau, mean over the 2N rows.
template <class T>
double nt_xent(const std::vector<std::vector<double>>& z, double tau) {
    const size_t rows = z.size(), n = rows / 2;
    std::vector<std::vector<double>> u = z;
    for (auto& v : u) {
        double s = 0;
        for (double e : v) s += e * e;
        s = std::max(std::sqrt(s), 1e-12);
        for (double& e : v) e /= s;
    }
    double loss = 0;
    for (size_t i = 0; i < rows; ++i) {
        const size_t pos = (i + n) % rows;
        double den = 0, spos = 0;
        for (size_t j = 0; j < rows; ++j) {
            if (j == i) continue;
            double d = 0;
            for (size_t k = 0; k < u[i].size(); ++k) d += u[i][k] * u[j][k];
            den += std::exp(d / tau);
            if (j == pos) spos = d / tau;
        }
        loss += -(spos - std::log(den));
    }
    return loss / static_cast<double>(rows);
}

template <class T>
std::vector<std::vector<double>> rows_of(const Tensor<T>& z) {
    std::vector<std::vector<double>> out(static_cast<size_t>(z.size(0)));
    for (int64_t i = 0; i < z.size(0); ++i)
        for (int64_t d = 0; d < z.size(1); ++d) out[static_cast<size_t>(i)].push_back(z(i, d));
    return out;
}

/// Local contrastive value: per image, NT-Xent over [view-1 regions; view-2 regions], mean over images.
template <class T>
double local_contrastive(const Tensor<T>& f1, const Tensor<T>& f2, const Tensor<int64_t>& cells, int64_t K,
                         double tau) {
    const int64_t B = f1.size(0), C = f1.size(1), W = f1.size(3), gw = W / K, R = cells.size(1);
    double total = 0;
    for (int64_t b = 0; b < B; ++b) {
        std::vector<std::vector<double>> v;
        for (const Tensor<T>* f : {&f1, &f2})
            for (int64_t r = 0; r < R; ++r) {
                const int64_t cell = cells(b, r), cy = cell / gw, cx = cell % gw;
                std::vector<double> row;
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t i = 0; i < K; ++i)
                        for (int64_t j = 0; j < K; ++j) row.push_back((*f)(b, c, cy * K + i, cx * K + j));
                v.push_back(row);
            }
        total += nt_xent<T>(v, tau);
    }
    return total / static_cast<double>(B);
}

/// Softmax cross-entropy value, mean over the batch.
template <class T>
double cross_entropy(const Tensor<T>& x, const Tensor<int64_t>& y) {
    const int64_t B = x.size(0), K = x.size(1);
    double loss = 0;
    for (int64_t b = 0; b < B; ++b) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += std::exp(static_cast<double>(x(b, k)));
        loss += std::log(s) - x(b, y(b));
    }
    return loss / static_cast<double>(B);
}

/// BCE with logits and pos_weight, straight from the definition -[w t log s(x) + (1 - t) log(1 - s(x))].
template <class T>
double bce_with_logits(const Tensor<T>& x, const Tensor<T>& t, const Tensor<T>& pw) {
    const int64_t B = x.size(0), C = x.size(1);
    double loss = 0;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t c = 0; c < C; ++c) {
            const double xv = x(b, c), tv = t(b, c), w = pw.defined() ? static_cast<double>(pw(c)) : 1.0;
            const double s = 1 / (1 + std::exp(-xv));
            loss += -(w * tv * std::log(s) + (1 - tv) * std::log(1 - s));
        }
    return loss / static_cast<double>(B * C);
}

}  // namespace ichseg::test::naive
