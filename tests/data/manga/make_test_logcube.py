"""Build small MaNGA cubes in the DR17 LOGCUBE layout from the real spaxel spectra in this folder.

``write_logcube(path)`` writes a 5 x 5 spaxel cube: 3-D FLUX/IVAR/MASK with the spectral axis first in the
FITS array (numpy shape (4563, 5, 5)), 1-D WAVE, and a DRP-like primary header (PLATEIFU, MANGAID,
OBJRA, OBJDEC). Spaxel (x, y) holds row ``spaxel_row(x, y)`` of MaNGA_test_spectra.fits.gz; the four
corners are outside the hexagonal IFU (flux 0, ivar 0, MASK = NOCOV|DONOTUSE) like a real cube's edges.
``write_model_cube(path)`` writes a matching DAP-style model cube (MODEL = 0.9 x FLUX, SCINPVEL).

Run as a script to regenerate ``manga-test-5x5-LOGCUBE.fits.gz`` next to it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

HERE = Path(__file__).parent
SOURCE = HERE / "MaNGA_test_spectra.fits.gz"
SIZE = 5
CORNERS = {(0, 0), (SIZE - 1, 0), (0, SIZE - 1), (SIZE - 1, SIZE - 1)}
NOCOV_DONOTUSE = 1 | 1024
PLATEIFU = "8131-6102"
OBJRA, OBJDEC = 118.26537, 25.5812
MODEL_SCALE = 0.9
SCINPVEL_KMS = 14848.0


def spaxel_row(x: int, y: int) -> int | None:
    """Row of the source table held by spaxel (x, y); None for the empty corners."""
    if (x, y) in CORNERS:
        return None
    return (x + SIZE * y) % 8


def _source_arrays():
    with fits.open(SOURCE) as hdul:
        return {name: np.array(hdul[name].data) for name in ("WAVE", "FLUX", "IVAR", "MASK")}


def build_cube_arrays():
    src = _source_arrays()
    n_wave = src["WAVE"].size
    flux = np.zeros((n_wave, SIZE, SIZE), dtype=">f4")
    ivar = np.zeros((n_wave, SIZE, SIZE), dtype=">f4")
    mask = np.full((n_wave, SIZE, SIZE), NOCOV_DONOTUSE, dtype=">i4")
    for y in range(SIZE):
        for x in range(SIZE):
            row = spaxel_row(x, y)
            if row is None:
                continue
            flux[:, y, x] = src["FLUX"][row]
            ivar[:, y, x] = src["IVAR"][row]
            mask[:, y, x] = src["MASK"][row]
    return src["WAVE"].astype(">f8"), flux, ivar, mask


def write_logcube(path, plateifu: str = PLATEIFU, z_keyword: float | None = None) -> Path:
    wave, flux, ivar, mask = build_cube_arrays()
    primary = fits.PrimaryHDU()
    primary.header["PLATEIFU"] = plateifu
    primary.header["MANGAID"] = "1-000000"
    primary.header["OBJRA"] = OBJRA
    primary.header["OBJDEC"] = OBJDEC
    primary.header["DRPVER"] = "v3_1_1"
    if z_keyword is not None:
        primary.header["Z"] = z_keyword
    hdus = [primary,
            fits.ImageHDU(flux, name="FLUX"), fits.ImageHDU(ivar, name="IVAR"), fits.ImageHDU(mask, name="MASK"),
            fits.ImageHDU(wave, name="WAVE")]
    hdus[1].header["BUNIT"] = "1E-17 erg/s/cm^2/Ang/spaxel"
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return Path(path)


def write_model_cube(path) -> Path:
    wave, flux, ivar, mask = build_cube_arrays()
    primary = fits.PrimaryHDU()
    primary.header["PLATEIFU"] = PLATEIFU
    primary.header["SCINPVEL"] = SCINPVEL_KMS
    primary.header["DAPTYPE"] = "HYB10-MILESHC-MASTARSSP"
    model = (flux.astype(np.float32) * MODEL_SCALE).astype(">f4")
    hdus = [primary, fits.ImageHDU(flux, name="FLUX"), fits.ImageHDU(ivar, name="IVAR"),
            fits.ImageHDU(mask, name="MASK"), fits.ImageHDU(wave, name="WAVE"),
            fits.ImageHDU(model, name="MODEL"), fits.ImageHDU(np.zeros(mask.shape, ">i4"), name="MODEL_MASK")]
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return Path(path)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "manga-test-5x5-LOGCUBE.fits.gz"
    print(write_logcube(out))
