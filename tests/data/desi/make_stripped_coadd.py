"""Trim QuasarNP's stripped DESI coadd (25 spectra, B/R/Z FLUX/IVAR/WAVELENGTH only, no FIBERMAP) to its
first 2 spectra, keeping the layout: the file a DESI reader must refuse for want of TARGETIDs.

Source: /work/shared/data/real/desi/quasarnp_test_coadd.fits (desihub/QuasarNP
quasarnp/tests/test_files/test_coadd.fits @ 05f50753a3, MIT, see LICENSE-quasarnp). Run as a script to
regenerate ``quasarnp-stripped-coadd-2.fits`` next to it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from astropy.io import fits

SOURCE = "/work/shared/data/real/desi/quasarnp_test_coadd.fits"
N_SPECTRA = 2


def trim(source: str, out: Path) -> Path:
    with fits.open(source) as hdul:
        hdus = [fits.PrimaryHDU(header=hdul[0].header)]
        for hdu in hdul[1:]:
            data = hdu.data if hdu.data.ndim == 1 else hdu.data[:N_SPECTRA]
            hdus.append(fits.ImageHDU(data, header=hdu.header, name=hdu.name))
        fits.HDUList(hdus).writeto(out, overwrite=True)
    return out


if __name__ == "__main__":
    print(trim(sys.argv[1] if len(sys.argv) > 1 else SOURCE, Path(__file__).parent / "quasarnp-stripped-coadd-2.fits"))
