"""Check the second independent set's Cramer-Rao bound with an oracle fit that knows every line's width.

Usage:
    PYTHONPATH=. python benchmarks/independent2_oracle.py --set DIR [--max-lenses 300]

For each lens of ``DIR/truth.csv`` (a set written by benchmarks/independent2_set.py), the residual flux - model
read by the product's reader is fitted by ``benchmarks.independent2.oracle.oracle_redshift`` within +-6
bounds (the larger of the two) of the true z_bg. Prints the spread of dz / cr_sigma_z (1.4826 MAD and RMS): ~1 when the
truth's bound is right, so a detector's spread on this set can be read against 1.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.independent2.metrics import robust_sigma  # noqa: E402
from benchmarks.independent2.oracle import oracle_redshift  # noqa: E402
from benchmarks.independent2.spectral_lines import LINE_KEYS  # noqa: E402
from casiglo_gui.core.readers import read_spectrum  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", required=True, dest="set_dir")
    ap.add_argument("--max-lenses", type=int, default=300)
    args = ap.parse_args(argv)
    truth = pd.read_csv(os.path.join(args.set_dir, "truth.csv"))
    lenses = truth[truth["kind"] == "lens"].head(args.max_lenses)
    t0 = time.perf_counter()
    pulls, pulls_free = [], []
    for row in lenses.itertuples(index=False):
        spectrum = read_spectrum(os.path.join(args.set_dir, row.file))
        residual = np.where(spectrum.mask, 0.0, spectrum.flux - spectrum.model).astype(np.float64)
        ivar = np.where(spectrum.mask, 0.0, spectrum.ivar).astype(np.float64)
        sigma_px = np.array([getattr(row, f"sigma_px_{k}") for k in LINE_KEYS])
        reach = 6.0 * max(row.cr_sigma_z, row.cr_sigma_z_free_fluxes)
        z = oracle_redshift(residual, ivar, np.log10(spectrum.wavelength), row.z_bg, sigma_px, reach)
        pulls.append((z - row.z_bg) / row.cr_sigma_z)
        pulls_free.append((z - row.z_bg) / row.cr_sigma_z_free_fluxes)
    pulls, pulls_free = np.array(pulls), np.array(pulls_free)
    print(f"set {args.set_dir}: oracle fit of {len(pulls)} lenses in {time.perf_counter() - t0:.0f} s")
    print(f"dz / cr_sigma_z:         1.4826 MAD {robust_sigma(pulls):.3f}, RMS {np.sqrt(np.mean(pulls ** 2)):.3f}, "
          f"median {np.median(pulls):+.3f}")
    print(f"dz / cr_sigma_z_free_fluxes: 1.4826 MAD {robust_sigma(pulls_free):.3f}, "
          f"RMS {np.sqrt(np.mean(pulls_free ** 2)):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
