"""Our fitted foreground vs the SDSS/BOSS pipeline's ``model`` on real spectra: residual chi^2 and verdicts.

Usage:
    PYTHONPATH=. python benchmarks/compare_foreground.py [--source DIR ...] [--detector combined]
        [--plot docs/foreground_vs_pipeline.png] [--table]

For every readable spec file of class GALAXY under the sources (default: the real SDSS-I/II and BOSS
spectra of /work/shared/data/real/sdss_spec, its two BOSS plates included), refits the foreground with
casiglo_gui.core.foreground and prints: the residual chi^2 per pixel on line-free pixels (foreground
emission windows, sky lines and bad pixels left out) with the pipeline model and with ours, their ratio;
and the detector's verdict (score, z_bg, above the detector's own 1%-false-positive threshold or not)
with each model. Non-galaxies (QSOs) are counted apart: the galaxy eigenspectra are not their model.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from casiglo_gui.core.detectors.detection import as_batch_of_one  # noqa: E402
from casiglo_gui.core.errors import SpectrumReadError  # noqa: E402
from casiglo_gui.core.foreground.compare import compare_models, lens_threshold_1pct, refitted  # noqa: E402
from casiglo_gui.core.preprocessing import to_model_grid  # noqa: E402
from casiglo_gui.core.readers import read_spectrum  # noqa: E402
from casiglo_gui.core.detectors.spec import build_detector, resolve_spec  # noqa: E402

SHARED = "/work/shared/data/real/sdss_spec"


def spec_files(sources: list[str]) -> list[str]:
    files = []
    for source in sources:
        files += sorted(glob.glob(os.path.join(source, "**", "spec-*.fits"), recursive=True))
        files += sorted(glob.glob(os.path.join(source, "gelato_paper_*.fits")))
        files += sorted(glob.glob(os.path.join(source, "ppxf_*_full.fits")))
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", action="append", default=None)
    ap.add_argument("--detector", choices=("physics", "cnn", "combined"), default=None)
    ap.add_argument("--plot", default=None, help="write the comparison figure (PNG) here")
    ap.add_argument("--table", action="store_true", help="print one line per spectrum")
    args = ap.parse_args()
    spec, sentence = resolve_spec(args.detector, None)
    detector = build_detector(spec)
    threshold = lens_threshold_1pct(detector)
    print(f"{sentence}; 1%-FPR threshold {threshold:.4f}")
    rows, skipped = [], []
    for path in spec_files(args.source or [SHARED]):
        try:
            pipeline = read_spectrum(path)
        except SpectrumReadError as exc:
            skipped.append(f"{os.path.basename(path)}: {exc.reason}")
            continue
        if pipeline.meta.get("class", "").strip() != "GALAXY" or pipeline.model_source != "pipeline":
            skipped.append(f"{os.path.basename(path)}: class {pipeline.meta.get('class')!r}")
            continue
        fitted = refitted(pipeline)
        comparison = compare_models(pipeline, fitted)
        verdicts = []
        for spectrum in (pipeline, fitted):
            d = detector.detect_batch(*as_batch_of_one(to_model_grid(spectrum)))[0]
            verdicts.append((float(d.score), float(d.z_bg)))
        rows.append((os.path.basename(path), pipeline, comparison, verdicts, fitted.model_error))
    if args.table:
        print(f"{'file':34s} {'z_fg':>7} {'npix':>5} {'chi2_pipe':>9} {'chi2_fit':>8} {'ratio':>6}"
              f" {'score_pipe':>10} {'score_fit':>9} {'z_bg_pipe':>9} {'z_bg_fit':>9}")
        for name, s, c, v, _ in rows:
            print(f"{name:34s} {s.z_fg:7.4f} {c.n_pixels:5d} {c.chi2_pipeline:9.3f} {c.chi2_fitted:8.3f} "
                  f"{c.ratio:6.3f} {v[0][0]:10.3f} {v[1][0]:9.3f} {v[0][1]:9.4f} {v[1][1]:9.4f}")
    ratios = np.array([c.ratio for _, _, c, _, _ in rows])
    above = [(name, v) for name, _, _, v, _ in rows if v[0][0] >= threshold or v[1][0] >= threshold]
    print(f"\n{len(rows)} GALAXY spectra compared ({len(skipped)} skipped: not GALAXY or unreadable)")
    print(f"chi2 ratio fitted/pipeline on line-free pixels: median {np.median(ratios):.3f}, "
          f"mean {np.mean(ratios):.3f}, 90th percentile {np.percentile(ratios, 90):.3f}, max {ratios.max():.3f}; "
          f"within 10%: {np.sum(ratios <= 1.10)} of {len(ratios)}")
    print(f"above the threshold ({threshold:.3f}) with either model:")
    for name, v in above:
        print(f"  {name}: pipeline {v[0][0]:.3f} (z_bg {v[0][1]:.4f}), fitted {v[1][0]:.3f} (z_bg {v[1][1]:.4f})")
    new = [name for name, v in above if v[1][0] >= threshold > v[0][0]]
    lost = [name for name, v in above if v[0][0] >= threshold > v[1][0]]
    print(f"new candidates with the fitted model: {len(new)} {new}; lost: {len(lost)} {lost}")
    if args.plot:
        plot(rows, threshold, args.plot)
        print(f"figure: {args.plot}")
    return 0


def plot(rows, threshold: float, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    chi_p = [c.chi2_pipeline for _, _, c, _, _ in rows]
    chi_f = [c.chi2_fitted for _, _, c, _, _ in rows]
    ax = axes[0]
    ax.scatter(chi_p, chi_f, s=12)
    lim = [min(chi_p + chi_f) * 0.95, max(chi_p + chi_f) * 1.05]
    ax.plot(lim, lim, "k-", lw=0.8, label="equal")
    ax.plot(lim, [1.1 * v for v in lim], "k:", lw=0.8, label="+10%")
    ax.set_xlabel("chi2/pixel, pipeline model")
    ax.set_ylabel("chi2/pixel, fitted model")
    ax.set_title("residual on line-free pixels")
    ax.legend()
    ax = axes[1]
    sp = [v[0][0] for _, _, _, v, _ in rows]
    sf = [v[1][0] for _, _, _, v, _ in rows]
    ax.scatter(sp, sf, s=12)
    ax.axvline(threshold, color="r", lw=0.8)
    ax.axhline(threshold, color="r", lw=0.8, label="1%-FPR threshold")
    ax.set_xlabel("lens score, pipeline model")
    ax.set_ylabel("lens score, fitted model")
    ax.set_title("detector verdicts")
    ax.legend()
    ax = axes[2]
    name, s, _, _, _ = next((r for r in rows if "3650-55244-0007" in r[0]), rows[0])
    fitted = refitted(s)
    ax.plot(s.wavelength, s.flux, color="0.6", lw=0.5, label="flux")
    ax.plot(s.wavelength, s.model, color="C0", lw=0.8, label="pipeline model")
    ax.plot(s.wavelength, fitted.model, color="C1", lw=0.8, label="fitted model")
    ax.set_xlim(3700, 9000)
    lo, hi = np.nanpercentile(s.flux[~s.mask], [1, 99])
    ax.set_ylim(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo))
    ax.set_xlabel("vacuum wavelength (A)")
    ax.set_title(f"{s.object_id} (z_fg {s.z_fg:.4f})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
