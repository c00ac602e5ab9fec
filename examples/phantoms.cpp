/// @file phantoms.cpp
/// @brief ichseg_phantoms: write synthetic head-CT phantoms (with ICH masks, intracranial masks and labels) in one
/// of the four real dataset layouts, or as plain NIfTI files. Examples:
///   ichseg_phantoms --layout physionet --out /tmp/ctich --count 10 --size 512
///   ichseg_phantoms --layout rsna --out /tmp/rsna --count 3 --slices 30
///   ichseg_phantoms --layout nifti --out /tmp/ph --count 2 --size 256 --slices 0 --ich-fraction 1
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "ichseg/core/parallel.hpp"
#include "ichseg/data/phantom_layouts.hpp"

using namespace ichseg;

int main(int argc, char** argv) {
    CLI::App app{"Write synthetic head-CT phantoms in a dataset layout (PhysioNet CT-ICH, RSNA, CQ500, Seg-CQ500) "
                 "or as NIfTI files"};
    std::string layout = "physionet", out;
    data::LayoutOptions o;
    bool no_quirks = false;
    int threads = 0;
    app.add_option("--layout", layout, "physionet | rsna | cq500 | segcq500 | nifti")
        ->check(CLI::IsMember({"physionet", "rsna", "cq500", "segcq500", "nifti"}));
    app.add_option("--out", out, "output folder (created)")->required();
    app.add_option("--count", o.count, "volumes (RSNA: studies)")->check(CLI::Range(1, 100000));
    app.add_option("--size", o.size, "in-plane pixels (e.g. 64 for tests, 512 for realism)")->check(CLI::Range(16, 2048));
    app.add_option("--slices", o.slices, "slices per volume; 0 = skull base to vertex (nifti layout only)")
        ->check(CLI::Range(0, 2000));
    app.add_option("--spacing", o.spacing, "slice spacing in mm")->check(CLI::Range(0.2, 20.0));
    app.add_option("--seed", o.seed, "random seed");
    app.add_option("--ich-fraction", o.ich_fraction, "share of volumes with hemorrhage")->check(CLI::Range(0.0, 1.0));
    app.add_flag("--no-quirks", no_quirks, "leave out the layouts' oddities (corrupt RSNA file, localizers, ...)");
    app.add_option("--threads", threads, "CPU threads (default: all)");
    CLI11_PARSE(app, argc, argv);
    o.quirks = !no_quirks;
    if (threads > 0) set_num_threads(threads);
    if (o.slices == 0 && layout != "nifti") {
        std::fprintf(stderr, "ichseg_phantoms: --slices 0 (full coverage) is only available with --layout nifti\n");
        return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    try {
        data::LayoutManifest man;
        if (layout == "physionet") man = data::write_physionet_layout(out, o);
        else if (layout == "rsna") man = data::write_rsna_layout(out, o);
        else if (layout == "cq500") man = data::write_cq500_layout(out, o);
        else if (layout == "segcq500") man = data::write_segcq500_layout(out, o);
        else {
            std::filesystem::create_directories(out);
            const std::vector<int> plan = data::detail::ich_plan(o.count, o.ich_fraction, o.seed);
            for (int64_t c = 0; c < o.count; ++c) {
                const data::Phantom ph = data::detail::case_phantom(o, c, plan[static_cast<size_t>(c)], 0x2f1f, o.slices, o.spacing);
                char stem[64];
                std::snprintf(stem, sizeof stem, "%s/phantom_%03lld", out.c_str(), static_cast<long long>(c));
                io::write_nifti(std::string(stem) + "_ct.nii.gz", ph.ct);
                io::write_nifti(std::string(stem) + "_ich.nii.gz", ph.ich);
                io::write_nifti(std::string(stem) + "_brain.nii.gz", ph.brain);
                data::WrittenCase wc;
                wc.id = std::string(stem) + " (" + ph.description + ")";
                wc.labels = ph.labels;
                wc.nz = ph.ct.nz();
                man.cases.push_back(wc);
                for (const auto& l : ph.lesions)
                    std::printf("  %s: %s %s, %.0f HU, %lld voxels\n", stem, io::subtype_name(l.type), l.variant.c_str(),
                                l.hu, static_cast<long long>(l.voxels));
            }
        }
        int ich = 0;
        for (const auto& c : man.cases) {
            std::printf("%-24s %3lld slices  %s\n", c.id.c_str(), static_cast<long long>(c.nz), c.labels.str().c_str());
            ich += c.labels.any == 1;
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("wrote %zu %s (%d with ICH) in %s layout under %s in %.1f s\n", man.cases.size(),
                    layout == "rsna" ? "images" : "volumes", ich, layout.c_str(), out.c_str(), secs);
    } catch (const Error& e) {
        std::fprintf(stderr, "ichseg_phantoms: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
