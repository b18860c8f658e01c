"""Draw docs/synthetic_vs_real.png: a synthetic lens spectrum next to a real foreground-subtracted residual.

Run from the repository root (needs matplotlib, a plotting-only dependency):

    PYTHONPATH=. python scripts/make_synthetic_figure.py [--out docs/synthetic_vs_real.png] [--seed 3]

Panels, all as the network sees them (residual x sqrt(ivar) on the model grid, masked pixels blank):
real residual from tests/data/sdss; synthetic lens on a real-residual background; synthetic lens on a
parametric background; synthetic lens on a PCA-drawn background; and a zoom on the injected lines.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from casiglo_gui.core import grid, preprocessing, readers  # noqa: E402
from casiglo_gui.core import lines as L  # noqa: E402
from training.synthetic import (ParametricBackground, PCABackground, RealResidualBackground,  # noqa: E402
                                SyntheticConfig, generate)
from training.synthetic.backgrounds import TESTS_DATA_DIR  # noqa: E402

REAL_FILE = TESTS_DATA_DIR / "spec-3650-55244-0007.fits"


def significance(residual, ivar):
    out = residual * np.sqrt(ivar)
    return np.where(ivar > 0, out, np.nan)


def first_lens(batch, min_lines=4):
    """Index of the first lens with at least ``min_lines`` lines, preferring [OIII] 5008 on the grid."""
    n_lines = batch.line_present.sum(axis=1)
    ok = batch.is_lens & (n_lines >= min_lines) & batch.line_present[:, L.LINE_INDEX["oiii_5008"]]
    return int(np.flatnonzero(ok)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/synthetic_vs_real.png")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    spectrum = readers.read_spectrum(str(REAL_FILE))
    real_grid = preprocessing.to_model_grid(spectrum)
    real = RealResidualBackground.from_files(TESTS_DATA_DIR)
    pca = PCABackground.fit(real, n_components=6)
    config = SyntheticConfig(proportions={"lens": 1.0}, lens_artifact_probability=0.0, z_fg_range=(0.1, 0.3),
                             real_z_fg_mode="file")
    panels = [(f"real residual: SDSS {spectrum.object_id} (z_fg={spectrum.z_fg:.3f}), no lens", None,
               significance(real_grid.residual, real_grid.ivar), None)]
    for name, source in (("real-residual", real), ("parametric", ParametricBackground()), ("PCA", pca)):
        batch = generate(64, seed=args.seed, config=config, backgrounds=source)
        i = first_lens(batch)
        panels.append((f"synthetic lens on a {name} background: z_fg={batch.z_fg[i]:.3f}, z_bg={batch.z_bg[i]:.3f}",
                       batch, significance(batch.residual[i], batch.ivar[i]), i))

    lam = grid.WAVELENGTH_A
    fig, axes = plt.subplots(len(panels) + 1, 1, figsize=(13, 2.3 * (len(panels) + 1)), constrained_layout=True)
    for ax, (title, batch, sig, i) in zip(axes, panels):
        ax.plot(lam, sig, lw=0.4, color="0.25")
        if batch is not None:
            for j in np.flatnonzero(batch.line_present[i]):
                w = L.REST_WAVELENGTHS_A[j] * (1 + batch.z_bg[i])
                ax.axvline(w, color="tab:red", lw=0.8, alpha=0.5)
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_ylim(-6, 12)
        ax.set_xlim(lam[0], lam[-1])
        ax.set_ylabel("residual / sigma", fontsize=8)
    # zoom on the real-residual-background lens around H beta - [OIII]
    title, batch, sig, i = panels[1]
    centre = L.rest_wavelength("oiii_4960") * (1 + batch.z_bg[i])
    ax = axes[-1]
    sel = (lam > centre - 200) & (lam < centre + 150)
    ax.step(lam[sel], sig[sel], where="mid", lw=0.8, color="0.2")
    for j in np.flatnonzero(batch.line_present[i]):
        w = L.REST_WAVELENGTHS_A[j] * (1 + batch.z_bg[i])
        if lam[sel][0] < w < lam[sel][-1]:
            ax.axvline(w, color="tab:red", lw=0.8, alpha=0.5)
            ax.text(w, 10.5, f"{L.LINE_LABELS[L.LINE_KEYS[j]]}\nSNR {batch.line_snr[i, j]:.1f}", fontsize=7,
                    ha="center", va="top", color="tab:red")
    ax.set_ylim(-5, 11)
    ax.set_title("zoom on the second panel: red lines mark rest x (1 + z_bg) of the injected lines, with their SNR labels",
                 fontsize=9, loc="left")
    ax.set_xlabel("vacuum wavelength (Angstrom)")
    ax.set_ylabel("residual / sigma", fontsize=8)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
