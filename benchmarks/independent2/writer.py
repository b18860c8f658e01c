"""Write a simulated spectrum as an SDSS/BOSS spec-lite file (PRIMARY, COADD, SPALL or SPECOBJ).

fitsio (a declared dependency of the product) writes a file in ~7 ms; astropy's table writer takes ~60 ms,
which would make a set of thousands of files take minutes longer.
"""
from __future__ import annotations

import os

import fitsio
import numpy as np

from .population import Simulated

COADD_DTYPE = [("flux", "f4"), ("loglam", "f4"), ("ivar", "f4"), ("and_mask", "i4"), ("or_mask", "i4"),
               ("wdisp", "f4"), ("sky", "f4"), ("model", "f4")]
INFO_DTYPE = [("PLATE", "i4"), ("MJD", "i4"), ("FIBERID", "i4"), ("Z", "f8"), ("ZWARNING", "i4"),
              ("PLUG_RA", "f8"), ("PLUG_DEC", "f8"), ("CLASS", "S6"), ("SUBCLASS", "S21")]


def spec_name(index: int, seed: int) -> tuple[str, int, int, int]:
    """File name and (plate, mjd, fiber) of file ``index``: sequential, so the name says nothing of the truth."""
    plate = 15000 + index // 1000
    mjd = 60000 + int(seed) % 10000
    fiber = index % 1000 + 1
    return f"spec-{plate:05d}-{mjd:05d}-{fiber:04d}.fits", plate, mjd, fiber


def write_spec(path: str, sim: Simulated, plate: int, mjd: int, fiber: int, ra: float, dec: float) -> None:
    coadd = np.zeros(sim.loglam.size, dtype=COADD_DTYPE)
    coadd["flux"], coadd["loglam"], coadd["ivar"] = sim.flux, sim.loglam, sim.ivar
    coadd["and_mask"] = coadd["or_mask"] = sim.and_mask
    coadd["wdisp"], coadd["sky"], coadd["model"] = sim.wdisp, sim.sky, sim.model
    info = np.zeros(1, dtype=INFO_DTYPE)
    info["PLATE"], info["MJD"], info["FIBERID"], info["Z"] = plate, mjd, fiber, sim.z_fg
    info["PLUG_RA"], info["PLUG_DEC"], info["CLASS"] = ra, dec, "GALAXY"
    if os.path.exists(path):
        os.remove(path)
    header = [{"name": "PLATEID", "value": plate}, {"name": "MJD", "value": mjd},
              {"name": "FIBERID", "value": fiber}, {"name": "RUN2D", "value": "indep2"}]
    with fitsio.FITS(path, "rw") as out:
        out.write(None, header=header)
        out.write(coadd, extname="COADD")
        out.write(info, extname=sim.layout.hdu2)
