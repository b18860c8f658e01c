"""Regenerate the inspector's bundled sample set (``resources/sample``).

Real spectra are copied unchanged. Synthetic lenses are real foreground spectra (SDSS/BOSS spec-lite
files) with the emission lines of a background galaxy added to ``flux`` at a chosen z_bg: Gaussian lines
of fixed integrated S/N against the file's own noise, [OIII] 5008/4960 = 2.98 and [NII] 6585/6550 = 2.95.
The foreground ``model`` column is left as it was, so the residual holds the background lines plus the
real noise. Each synthetic file gets a fibre number 9000 + k (no real fibre has one), so its object id
(``PLATE-MJD-9xxx``) never collides with a real object's labels, and primary-header keywords
``CSYNTH``, ``CSZBG``, ``CSSRC`` say what was done.

Usage::

    PYTHONPATH=. python scripts/make_sample_set.py [--source-dir tests/data/sdss] [--out resources/sample]
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from astropy.io import fits

from casiglo_gui.core.lines import LINE_KEYS, REST_WAVELENGTHS_A

ROOT = Path(__file__).resolve().parents[1]
REAL = ("spec-0266-51602-0013.fits", "spec-0266-51602-0107.fits", "spec-3650-55244-0077.fits",
        "spec-3651-55247-0054.fits")
# (source file, z_bg, integrated S/N of [OIII] 5008 or the strongest line, relative line strengths)
SYNTHETIC = (
    ("spec-3650-55244-0007.fits", 0.6234, 14.0, "oiii"),
    ("spec-3650-55244-0089.fits", 0.4712, 8.0, "balmer"),
    ("spec-0266-51602-0107.fits", 0.3578, 6.0, "oii"),
)
# Relative integrated fluxes per line (contract order) for three kinds of background galaxy.
STRENGTHS = {
    "oiii": {"oii_3727": 0.35, "oii_3730": 0.45, "hbeta": 0.3, "oiii_4960": 1 / 2.98, "oiii_5008": 1.0,
             "halpha": 0.9, "nii_6585": 0.2, "nii_6550": 0.2 / 2.95},
    "balmer": {"oii_3727": 0.5, "oii_3730": 0.6, "hgamma": 0.2, "hbeta": 0.45, "oiii_4960": 0.15 / 2.98,
               "oiii_5008": 0.15, "halpha": 1.0, "nii_6585": 0.35, "nii_6550": 0.35 / 2.95,
               "sii_6718": 0.2, "sii_6733": 0.15},
    "oii": {"oii_3727": 0.8, "oii_3730": 1.0, "hbeta": 0.3, "oiii_5008": 0.35, "oiii_4960": 0.35 / 2.98},
}
LINE_SIGMA_PX = 1.6
SEARCH_DIRS = (ROOT / "tests" / "data" / "sdss", Path("/work/shared/data/real/sdss_spec"),
               Path("/work/shared/data/real/sdss_spec/boss_plates_3650_3651"))


def find(name: str, source_dirs) -> Path:
    for folder in source_dirs:
        candidate = Path(folder) / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{name} not found in {', '.join(map(str, source_dirs))}")


def inject(source: Path, out: Path, z_bg: float, snr: float, kind: str, fibre: int) -> None:
    """Write ``out``: ``source`` with background-galaxy lines at ``z_bg`` added to its flux."""
    with fits.open(source) as hdul:
        coadd = hdul[1].data
        loglam = np.asarray(coadd["loglam"], dtype=np.float64)
        ivar = np.asarray(coadd["ivar"], dtype=np.float64)
        pix = (loglam - loglam[0]) / 1e-4
        strengths = STRENGTHS[kind]
        strongest = max(strengths.values())
        added = np.zeros_like(loglam)
        for key, rel in strengths.items():
            centre = np.log10(REST_WAVELENGTHS_A[LINE_KEYS.index(key)] * (1 + z_bg))
            centre_px = (centre - loglam[0]) / 1e-4
            if not 5 < centre_px < len(loglam) - 5:
                continue
            near = np.abs(pix - centre_px) < 30
            good = near & (ivar > 0)
            sigma_noise = np.median(1 / np.sqrt(ivar[good])) if np.any(good) else 1.0
            # Peak amplitude giving integrated S/N = snr * rel / strongest for a Gaussian in white noise.
            peak = (snr * rel / strongest) * sigma_noise / np.sqrt(np.sqrt(np.pi) * LINE_SIGMA_PX)
            added += peak * np.exp(-0.5 * ((pix - centre_px) / LINE_SIGMA_PX) ** 2)
        coadd["flux"] = (np.asarray(coadd["flux"], dtype=np.float64) + added).astype(coadd["flux"].dtype)
        info = hdul[2].data
        info["FIBERID"][0] = fibre
        header = hdul[0].header
        header["CSYNTH"] = (True, "CASIGLO sample: background lines injected")
        header["CSZBG"] = (z_bg, "injected background redshift")
        header["CSSRC"] = (source.name, "real spectrum the lines were added to")
        header["FIBERID"] = fibre
        hdul.writeto(out, overwrite=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", action="append", help="where the real spec files are (repeatable)")
    parser.add_argument("--out", default=str(ROOT / "resources" / "sample"))
    args = parser.parse_args(argv)
    source_dirs = args.source_dir or SEARCH_DIRS
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in REAL:
        shutil.copyfile(find(name, source_dirs), out / name)
        print(f"copied {name}")
    for k, (name, z_bg, snr, kind) in enumerate(SYNTHETIC, start=1):
        source = find(name, source_dirs)
        plate, mjd = name.split("-")[1:3]
        target = out / f"spec-{plate}-{mjd}-{9000 + k:04d}.fits"
        inject(source, target, z_bg, snr, kind, 9000 + k)
        print(f"wrote {target.name}: {kind} lines at z_bg={z_bg} (S/N {snr}) on {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
