/// @file mimics.hpp (data/phantom)
/// @brief The hemorrhage mimics and artefacts of the head model: dense falx cerebri and tentorium cerebelli,
/// superior sagittal, straight and transverse venous sinuses (blood density), pineal / choroid plexus / basal
/// ganglia / falx calcifications, beam hardening (a brighter band next to the inner table, a dark band and streaks
/// between the petrous bones) and the patient couch. Acquisition artefacts (motion, kVp, noise) are in
/// acquisition.hpp. They are drawn with the head (anatomy.hpp draws them after the anatomy, from the same stream), and the
/// head model asks them at the places where they occur. With `PhantomParams::mimics` off the same values are drawn
/// (the random stream does not depend on the flag) and none is shown; the falx is then CSF.
/// A new mimic: its draws at the end of `draw` (so that the earlier draws keep their values), its membership
/// test here, one call where it occurs (anatomy.hpp for intracranial structures, generate.hpp for the air).
#pragma once

#include <array>
#include <cmath>

#include "ichseg/data/phantom/common.hpp"

namespace ichseg::data::phantom {

class Mimics {
public:
    /// Draw the mimics of one head of scale `k` and antero-posterior semi-axis `B` (mm).
    void draw(Rng& rng, bool on, double k, double A, double B) {
        on_ = on;
        k_ = k;
        A_ = A;
        B_ = B;
        hu_sinus_ = rng.uniform(45, 75);  // unenhanced venous blood: rises with the haematocrit
        hu_falx_ = rng.uniform(45, 70);
        sss_w_ = rng.uniform(3, 5.5) * k_;
        sss_h_ = rng.uniform(6, 9) * k_;
        pineal_ = rng.bernoulli(0.7) ? rng.uniform(120, 500) : 0;
        pineal_r_ = rng.uniform(1.5, 4.0);
        choroid_ = rng.bernoulli(0.6) ? rng.uniform(70, 400) : 0;
        bg_calc_ = rng.bernoulli(0.15) ? rng.uniform(80, 300) : 0;
        falx_calc_ = rng.bernoulli(0.3) ? rng.uniform(250, 700) : 0;
        falx_calc_y_ = rng.uniform(-0.3, 0.4) * B_;
        falx_calc_z_ = rng.uniform(20, 55) * k_;
        bh_cup_ = rng.uniform(1, 14);
        bh_streak_ = rng.uniform(20, 60);
        streak_angle_ = rng.uniform(-0.3, 0.3);
        n_streaks_ = static_cast<int>(rng.randint(2, 5));
        for (int i = 0; i < n_streaks_; ++i) {
            streak_dir_[static_cast<size_t>(i)] = rng.uniform(0, 3.14159265358979);
            streak_amp_[static_cast<size_t>(i)] = rng.uniform(-45, 35);
        }
        couch_gap_ = rng.uniform(8, 25);
        // added with issue 15 (after the earlier draws, which keep their places in the stream)
        bh_len_ = rng.uniform(2.5, 6.0) * k_;
        hu_tent_ = rng.uniform(38, 60);
        tent_half_ = rng.uniform(0.5, 0.9);
        straight_r_ = rng.uniform(2.0, 3.2) * k_;
        choroid_r_ = rng.uniform(2.0, 4.5) * k_;
        bg_calc_r_ = rng.uniform(1.2, 3.0) * k_;
    }

    bool on() const { return on_; }

    /// Superior sagittal sinus (under the vertex, against the inner table) or transverse sinus (posterior, low):
    /// blood density plus the brain texture `tex`. `d_in`: depth below the inner table, `ax` = |x|.
    bool venous_sinus(V3 p, double d_in, double ax, double tex, Tissue& tissue, Sample& s) const {
        if (!on_) return false;
        if (p.z > 5 * k_ && d_in < sss_h_ && ax < sss_w_ * (1 - d_in / sss_h_) && p.y < 0.55 * B_) {
            tissue = T_OTHER;
            s.hu = static_cast<float>(hu_sinus_ + tex);
            return true;
        }
        const double zts = -33 * k_ - 6 * k_ * (p.y / B_ + 0.6);
        if (p.y < -0.35 * B_ && d_in < 5.5 * k_ && std::fabs(p.z - zts) < 4.5 * k_) {
            tissue = T_OTHER;
            s.hu = static_cast<float>(hu_sinus_ + tex);
            return true;
        }
        // straight sinus: at the junction of falx and tentorium, from the vein of Galen down to the torcular
        if (ax < straight_r_ && p.y < -0.28 * B_) {
            double t;
            if (seg_dist(p, V3{0, -0.32 * B_, 2 * k_}, V3{0, -0.84 * B_, -25 * k_}, t) < straight_r_) {
                tissue = T_OTHER;
                s.hu = static_cast<float>(hu_sinus_ + tex);
                return true;
            }
        }
        return false;
    }

    /// The tentorium (dura, slightly denser than brain) at p, `dz` = height above the tentorium (HeadModel::
    /// tentorium_z): a sheet of about 1-2 mm
    /// over the posterior fossa, open at the incisura where the brainstem passes.
    bool tentorium(V3 p, double dz, double tex, Tissue& tissue, Sample& s) const {
        if (!on_ || std::fabs(dz) >= tent_half_ || p.y > -0.05 * B_) return false;
        if (std::fabs(p.x) < 13 * k_ && p.y > -0.33 * B_) return false;  // tentorial incisura
        tissue = T_OTHER;
        s.hu = static_cast<float>(hu_tent_ + 0.5 * tex);
        return true;
    }

    /// HU of the falx at p (CSF `hu_csf` when the mimics are off), a calcified plaque where there is one.
    float falx_hu(V3 p, double hu_csf) const {
        float hu = static_cast<float>(on_ ? hu_falx_ : hu_csf);
        if (on_ && falx_calc_ > 0 && std::fabs(p.y - falx_calc_y_) < 5 * k_ && std::fabs(p.z - falx_calc_z_) < 3 * k_)
            hu = static_cast<float>(falx_calc_);
        return hu;
    }

    /// Pineal gland and basal ganglia calcifications.
    bool calcification(V3 p, Tissue& tissue, Sample& s) const {
        if (!on_) return false;
        if (pineal_ > 0 && norm(p - V3{0, -0.2 * B_, 2 * k_}) < pineal_r_ * k_) {
            tissue = T_OTHER;
            s.hu = static_cast<float>(pineal_);
            return true;
        }
        if (bg_calc_ > 0 && norm(p - V3{(p.x < 0 ? -1 : 1) * 18 * k_, 0.03 * B_, 0}) < bg_calc_r_) {
            tissue = T_OTHER;
            s.hu = static_cast<float>(bg_calc_);
            return true;
        }
        return false;
    }

    /// Choroid plexus calcification in the atrium of lateral ventricle `which` (+-1; others have none).
    void choroid_plexus(V3 p, int which, Sample& s) const {
        if (on_ && choroid_ > 0 && (which == 1 || which == -1) &&
            norm(p - V3{which * 17 * k_, -0.3 * B_, 11 * k_}) < choroid_r_)
            s.hu = static_cast<float>(choroid_);
    }

    /// Beam-hardening artefacts at p (HU added to intracranial samples).
    double beam_hardening(V3 p, double d_in) const {
        if (!on_) return 0;
        double v = bh_cup_ * std::exp(-d_in / bh_len_);
        if (p.z < -24 * k_ && p.z > -56 * k_) {
            // dark band between the petrous apices (Hounsfield bar) and streaks radiating from them
            const double yb = -0.06 * B_ + streak_angle_ * p.x;
            v -= bh_streak_ * std::exp(-0.5 * std::pow((p.y - yb) / (3.0 * k_), 2)) * smoothstep(-56 * k_, -44 * k_, p.z) *
                 smoothstep(-22 * k_, -30 * k_, p.z);
            for (int i = 0; i < n_streaks_; ++i) {
                const double a = streak_dir_[static_cast<size_t>(i)];
                const double px = p.x - (i % 2 ? 30 : -30) * k_, py = p.y + 0.1 * B_;
                const double dl = std::fabs(-std::sin(a) * px + std::cos(a) * py);
                v += streak_amp_[static_cast<size_t>(i)] * std::exp(-0.5 * dl * dl / (1.2 * 1.2)) * 0.6;
            }
        }
        return v;
    }

    /// Whether a sample of air at `world` (mm, world frame, posterior = -y) lies in the patient couch (180 HU).
    bool in_couch(V3 world) const {
        if (!on_) return false;
        const double yc = -(B_ + couch_gap_) - 0.0025 * world.x * world.x;
        return world.y < yc && world.y > yc - 4 && std::fabs(world.x) < 140;
    }

private:
    bool on_ = true;
    double k_ = 1, A_ = 1, B_ = 1;
    double hu_sinus_ = 0, hu_falx_ = 0, sss_w_ = 0, sss_h_ = 1, pineal_ = 0, pineal_r_ = 0, choroid_ = 0, bg_calc_ = 0;
    double falx_calc_ = 0, falx_calc_y_ = 0, falx_calc_z_ = 0;
    double bh_cup_ = 0, bh_streak_ = 0, streak_angle_ = 0;
    int n_streaks_ = 0;
    std::array<double, 5> streak_dir_{}, streak_amp_{};
    double couch_gap_ = 0;
    double bh_len_ = 4, hu_tent_ = 0, tent_half_ = 0, straight_r_ = 0, choroid_r_ = 0, bg_calc_r_ = 0;
};

}  // namespace ichseg::data::phantom
