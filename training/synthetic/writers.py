"""Synthetic data on disk: fixed-size array shards (npz or HDF5) with a JSON card, and SDSS-like
``spec-*.fits`` files that the app's readers open like real spectra.

Shards hold every :class:`SyntheticBatch` field; :func:`load_shards` reads them back. A spec file stores
flux = foreground model + residual, so ``flux - model`` read back through the readers and
``preprocessing.to_model_grid`` reproduces the generated spectrum. Its truth is in HDU0 keywords:

======== ===============================================================
CSG_KIND kind name (``training.synthetic.KINDS``)
CSG_ZFG  foreground redshift (also Z in HDU2)
CSG_ZBG  background-source redshift, -1 when there is none
CSG_LINE bit mask of present lines, bit i = ``casiglo_gui.core.lines.LINE_KEYS[i]``
CSG_SNii matched-filter SNR of line ii (00..11), 0 when absent
CSG_BG   background kind; CSG_SEED, CSG_INDX: seed and index in the data set
======== ===============================================================
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
# Imported here, not lazily: astropy reads its configuration on first import.
from astropy.io import fits

from casiglo_gui.core import grid
from casiglo_gui.core import lines as L

from .backgrounds import sky_template
from .config import BACKGROUND_KINDS, KINDS
from .generator import RawSpectra, SyntheticBatch
from .negatives import STELLAR_FEATURES_A, median_positive

CARD_NAME = "card.json"
SHARD_FORMATS = ("npz", "hdf5")


class ShardWriter:
    """Accumulates batches and writes shards of exactly ``shard_size`` spectra (the last may be shorter)."""

    def __init__(self, out_dir, fmt: str = "npz", shard_size: int = 4096):
        if fmt not in SHARD_FORMATS:
            raise ValueError(f"shard format must be one of {SHARD_FORMATS}, not {fmt!r}")
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt
        self.shard_size = int(shard_size)
        self._pending: list[SyntheticBatch] = []
        self._pending_n = 0
        self.files: list[str] = []

    def add(self, batch: SyntheticBatch) -> None:
        self._pending.append(batch)
        self._pending_n += len(batch)
        while self._pending_n >= self.shard_size:
            whole = SyntheticBatch.concatenate(self._pending)
            self._write(whole.subset(slice(0, self.shard_size)))
            rest = whole.subset(slice(self.shard_size, None))
            self._pending = [rest] if len(rest) else []
            self._pending_n = len(rest)

    def close(self) -> None:
        if self._pending_n:
            self._write(SyntheticBatch.concatenate(self._pending))
        self._pending, self._pending_n = [], 0

    def _write(self, batch: SyntheticBatch) -> None:
        name = f"shard-{len(self.files):05d}.{'npz' if self.fmt == 'npz' else 'h5'}"
        path = self.out_dir / name
        arrays = {f.name: getattr(batch, f.name) for f in fields(SyntheticBatch)}
        if self.fmt == "npz":
            np.savez(path, **arrays)
        else:
            import h5py
            with h5py.File(path, "w") as h5:
                for key, value in arrays.items():
                    h5.create_dataset(key, data=value, chunks=True if value.ndim == 2 else None,
                                      compression="lzf" if value.ndim == 2 else None)
        self.files.append(name)


def write_card(out_dir, card: dict) -> Path:
    """Write the data set's JSON card (config, seed, command, files...)."""
    path = Path(out_dir) / CARD_NAME
    path.write_text(json.dumps(card, indent=2, sort_keys=True, default=_json_default))
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def load_shards(directory, limit: int | None = None) -> SyntheticBatch:
    """Read the shards listed in ``directory/card.json`` back into one batch (``allow_pickle=False``)."""
    directory = Path(directory)
    card = json.loads((directory / CARD_NAME).read_text())
    batches, total = [], 0
    for name in card["files"]:
        path = directory / name
        if name.endswith(".npz"):
            with np.load(path, allow_pickle=False) as data:
                batch = SyntheticBatch(**{f.name: data[f.name] for f in fields(SyntheticBatch)})
        else:
            import h5py
            with h5py.File(path, "r") as h5:
                batch = SyntheticBatch(**{f.name: h5[f.name][()] for f in fields(SyntheticBatch)})
        batches.append(batch)
        total += len(batch)
        if limit is not None and total >= limit:
            break
    whole = SyntheticBatch.concatenate(batches)
    return whole.subset(slice(0, limit)) if limit is not None else whole


# --------------------------------------------------------------------------------------- spec files
def foreground_model(rng: np.random.Generator, z_fg: float, noise_sigma: float) -> np.ndarray:
    """A plausible early-type galaxy continuum on the model grid at ``z_fg`` (only for spec files: the
    residual, not the model, is what the detectors see). Red continuum with a 4000 A break and
    velocity-broadened absorption lines, ~10-40 times the noise per pixel."""
    rest = grid.WAVELENGTH_A / (1.0 + z_fg)
    level = rng.uniform(10.0, 40.0) * noise_sigma
    continuum = (rest / 5000.0) ** rng.uniform(0.5, 1.5)
    continuum *= 1.0 - rng.uniform(0.3, 0.5) / (1.0 + np.exp((rest - 4000.0) / 40.0))
    vdisp = rng.uniform(150.0, 300.0)
    for feature in STELLAR_FEATURES_A:
        sigma = feature * vdisp / 299792.458
        continuum *= 1.0 - rng.uniform(0.05, 0.25) * np.exp(-0.5 * ((rest - feature) / sigma) ** 2)
    return (level * continuum).astype(np.float32)


def spec_file_name(index: int, seed: int) -> tuple[str, int, int, int]:
    """File name and (plate, mjd, fiber) of spectrum ``index`` of the data set with ``seed``."""
    plate = 9000 + index // 1000
    mjd = 60000 + int(seed) % 10000
    fiber = index % 1000 + 1
    return f"spec-{plate:04d}-{mjd:05d}-{fiber:04d}.fits", plate, mjd, fiber


def write_spec_files(batch: SyntheticBatch, raw: RawSpectra, out_dir, seed: int, start_index: int = 0,
                     overwrite: bool = False) -> list[Path]:
    """Write each spectrum of ``batch`` as an SDSS/BOSS-like ``spec-PLATE-MJD-FIBER.fits`` (lite layout).

    HDU1 COADD: flux, loglam, ivar, and_mask, wdisp, sky, model over the spectrum's coverage; HDU2 SPALL:
    PLATE, MJD, FIBERID, Z, PLUG_RA, PLUG_DEC, CLASS, SUBCLASS, ZWARNING; HDU0 carries the truth.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    sky = sky_template()
    for i in range(len(batch)):
        index = start_index + i
        name, plate, mjd, fiber = spec_file_name(index, seed)
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(2_000_003, index)))
        good = np.flatnonzero(raw.ivar[i] > 0)
        lo, hi = (int(good[0]), int(good[-1]) + 1) if good.size else (0, grid.N_PIXELS)
        sl = slice(lo, hi)
        noise = 1.0 / np.sqrt(median_positive(raw.ivar[i:i + 1])[0])
        model = foreground_model(rng, float(batch.z_fg[i]), noise)[sl]
        residual = np.where(raw.ivar[i, sl] > 0, raw.residual[i, sl], 0.0).astype(np.float32)
        cols = [
            fits.Column("flux", "E", array=model + residual),
            fits.Column("loglam", "E", array=grid.LOGLAM[sl].astype(np.float32)),
            fits.Column("ivar", "E", array=raw.ivar[i, sl]),
            fits.Column("and_mask", "J", array=np.zeros(hi - lo, dtype=np.int32)),
            fits.Column("or_mask", "J", array=np.zeros(hi - lo, dtype=np.int32)),
            fits.Column("wdisp", "E", array=np.full(hi - lo, raw.lsf_px[i], dtype=np.float32)),
            fits.Column("sky", "E", array=(noise * (2.0 + 200.0 * sky[sl])).astype(np.float32)),
            fits.Column("model", "E", array=model),
        ]
        coadd = fits.BinTableHDU.from_columns(cols, name="COADD")
        ra, dec = rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-0.3, 1.0)))
        spall = fits.BinTableHDU.from_columns([
            fits.Column("PLATE", "J", array=[plate]), fits.Column("MJD", "J", array=[mjd]),
            fits.Column("FIBERID", "J", array=[fiber]), fits.Column("Z", "D", array=[batch.z_fg[i]]),
            fits.Column("PLUG_RA", "D", array=[ra]), fits.Column("PLUG_DEC", "D", array=[dec]),
            fits.Column("CLASS", "6A", array=["GALAXY"]), fits.Column("SUBCLASS", "21A", array=[""]),
            fits.Column("ZWARNING", "J", array=[0]),
        ], name="SPALL")
        primary = fits.PrimaryHDU()
        h = primary.header
        h["RUN2D"] = ("synthetic", "made by casiglo-train generate")
        h["RA"], h["DEC"] = ra, dec
        h["CSG_KIND"] = (KINDS[int(batch.kind[i])], "synthetic truth: kind")
        h["CSG_ZFG"] = (float(batch.z_fg[i]), "synthetic truth: foreground z")
        z_bg = float(batch.z_bg[i])
        h["CSG_ZBG"] = (z_bg if np.isfinite(z_bg) else -1.0, "synthetic truth: source z (-1 none)")
        bits = int(np.sum((1 << np.arange(L.N_LINES))[batch.line_present[i]]))
        h["CSG_LINE"] = (bits, "present lines: bit i = LINE_KEYS[i]")
        for j in range(L.N_LINES):
            h[f"CSG_SN{j:02d}"] = (round(float(batch.line_snr[i, j]), 4), f"SNR of {L.LINE_KEYS[j]}")
        h["CSG_BG"] = (BACKGROUND_KINDS[int(batch.background[i])], "background kind")
        h["CSG_SEED"] = (int(seed), "data set seed")
        h["CSG_INDX"] = (int(index), "index in the data set")
        path = out / name
        fits.HDUList([primary, coadd, spall]).writeto(path, overwrite=overwrite)
        written.append(path)
    return written


def read_truth(path) -> dict:
    """The synthetic truth stored in a spec file's primary header."""
    h = fits.getheader(path, 0)
    if "CSG_KIND" not in h:
        raise ValueError(f"{path}: not a synthetic spectrum (no CSG_KIND keyword)")
    bits = int(h["CSG_LINE"])
    return {
        "kind": str(h["CSG_KIND"]), "z_fg": float(h["CSG_ZFG"]),
        "z_bg": float(h["CSG_ZBG"]) if float(h["CSG_ZBG"]) >= 0 else float("nan"),
        "line_present": np.array([(bits >> j) & 1 == 1 for j in range(L.N_LINES)]),
        "line_snr": np.array([float(h[f"CSG_SN{j:02d}"]) for j in range(L.N_LINES)], dtype=np.float32),
        "background": str(h["CSG_BG"]), "seed": int(h["CSG_SEED"]), "index": int(h["CSG_INDX"]),
    }
