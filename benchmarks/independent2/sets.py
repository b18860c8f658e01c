"""The three test sets of issue 13 in one truth layout (``metrics.TRUTH_REQUIRED``), and their builders.

- ``indep2``: this package's set (``benchmarks/independent2_set.py``); its truth is already in the layout.
- ``independent``: ``benchmarks/independent_set.py`` (lines injected into real SDSS/BOSS spectra). Its kinds
  are renamed (untouched -> plain, single_line -> lone_line); its per-line SNR (completeness bins) is its own
  box-aperture SNR, while the Cramer-Rao bound uses the matched-filter SNR of the true fluxes in each file's
  ivar, and widths from the set's sigma_v and the file's own wdisp (read with the product's reader).
- Every set also gets ``cr_sigma_z_free_fluxes``: the bound when the line fluxes are unknown as well, from the
  file's ivar; it differs from ``cr_sigma_z`` (the issue's formula, lines independent) for blends, above all
  the [OII] doublet.
- ``synthetic``: our generator (``training.synthetic``) with the model card's data recipe, written as spec files
  by its own ``write_spec_files``; the truth comes from the same batches (line SNR and width per line).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pandas as pd

from .profiles import LineSet, cramer_rao_sigma_z, shift_to_sigma_z, total_sigma_px
from .spectral_lines import LINE_KEYS, REST_VACUUM_A

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SYNTHETIC_RECIPE = os.path.join(REPO, "training", "configs", "casiglo-cnn-v3.json")
SET_NAMES = ("indep2", "independent", "synthetic")
KIND_NAMES = {"independent": {"untouched": "plain", "single_line": "lone_line"},
              "synthetic": {"empty": "plain", "single_line": "lone_line", "cosmic_ray": "cosmic"}}
TRUTH_FILE = "truth.csv"
SYNTHETIC_TRUTH_FILE = "truth_synthetic.csv"


def build(name: str, out_dir: str, n: int, seed: int) -> None:
    """Write set ``name`` with ``n`` files and ``seed`` into ``out_dir`` through that set's own builder."""
    if name == "indep2":
        from benchmarks import independent2_set
        code = independent2_set.main(["--out", out_dir, "--n", str(n), "--seed", str(seed), "--quiet"])
    elif name == "independent":
        from benchmarks import independent_set
        code = independent_set.main(["--out", out_dir, "--n", str(n), "--seed", str(seed), "--quiet"])
    elif name == "synthetic":
        code = build_synthetic(out_dir, n, seed)
    else:
        raise ValueError(f"unknown set {name!r}; choose one of {', '.join(SET_NAMES)}")
    if code:
        raise RuntimeError(f"building the {name} set into {out_dir} failed (exit code {code})")


def build_synthetic(out_dir: str, n: int, seed: int, recipe_path: str = SYNTHETIC_RECIPE) -> int:
    """Our generator's spectra as spec files plus a truth table in this layout."""
    from training.synthetic import KINDS, SyntheticConfig
    from training.synthetic.parallel import iter_chunks_parallel
    from training.synthetic.writers import write_spec_files

    with open(recipe_path, encoding="utf-8") as handle:
        config = SyntheticConfig.from_dict(json.load(handle).get("data", {}))
    os.makedirs(out_dir, exist_ok=True)
    frames, index = [], 0
    for batch, raw in iter_chunks_parallel(n, seed, config, None, workers=1, progress=False, raw=True):
        paths = write_spec_files(batch, raw, out_dir, seed, start_index=index, overwrite=True)
        index += len(batch)
        present = np.asarray(batch.line_present, bool)
        z_bg = np.asarray(batch.z_bg, np.float64)
        snr = np.where(present, np.asarray(batch.line_snr, np.float64), 0.0)
        sigma_a = np.where(present, np.asarray(batch.line_sigma_a, np.float64), 0.0)
        sigma_px = sigma_a / (REST_VACUUM_A[None, :] * (1.0 + np.nan_to_num(z_bg)[:, None]) * np.log(10.0) * 1e-4)
        frame = pd.DataFrame({"file": [os.path.basename(str(p)) for p in paths],
                              "kind": [KINDS[int(k)] for k in batch.kind],
                              "z_fg": np.asarray(batch.z_fg, np.float64), "z_bg": z_bg})
        for j, key in enumerate(LINE_KEYS):
            frame[f"snr_{key}"] = snr[:, j]
            frame[f"sigma_px_{key}"] = sigma_px[:, j]
        frames.append(frame)
    truth = pd.concat(frames, ignore_index=True)
    truth.to_csv(os.path.join(out_dir, SYNTHETIC_TRUTH_FILE), index=False)
    with open(os.path.join(out_dir, "set.json"), "w", encoding="utf-8") as handle:
        json.dump({"generator": "training.synthetic", "recipe": recipe_path, "n": n, "seed": seed}, handle, indent=2)
    return 0


def _complete(truth: pd.DataFrame, sigma_px: np.ndarray, bound_snr: np.ndarray | None = None) -> pd.DataFrame:
    """Add snr_total, snr_max (lenses) and cr_sigma_z from the per-line SNR (``bound_snr`` for the bound
    when given) and widths."""
    snr = truth[[f"snr_{k}" for k in LINE_KEYS]].to_numpy(np.float64)
    snr = np.nan_to_num(snr, nan=0.0)
    lens = (truth["kind"] == "lens").to_numpy()
    truth["snr_total"] = np.where(lens, np.sqrt(np.sum(snr ** 2, axis=1)), truth.get("snr_total", np.nan))
    truth["snr_max"] = np.where(lens, snr.max(axis=1), truth.get("snr_max", np.nan))
    z_bg = truth["z_bg"].to_numpy(np.float64)
    bound_snr = snr if bound_snr is None else bound_snr
    truth["cr_sigma_z"] = [cramer_rao_sigma_z(bound_snr[i], sigma_px[i], z_bg[i]) if lens[i] else np.nan
                           for i in range(len(truth))]
    return truth


def load_truth(name: str, set_dir: str) -> pd.DataFrame:
    """The truth of a built set in the common layout."""
    if name == "indep2":
        truth = pd.read_csv(os.path.join(set_dir, TRUTH_FILE), keep_default_na=False,
                            na_values={c: [""] for c in ("z_bg", "snr_max", "cr_sigma_z", "sigma_v_kms")})
        truth["kind"] = truth["kind"].astype(str)
        return truth
    if name == "synthetic":
        truth = pd.read_csv(os.path.join(set_dir, SYNTHETIC_TRUTH_FILE))
        truth["kind"] = truth["kind"].replace(KIND_NAMES["synthetic"])
        present = truth[[f"snr_{k}" for k in LINE_KEYS]].to_numpy(np.float64) > 0
        # The generator's own rule (training.evaluate.lens_truth): a lens has a background line.
        truth.loc[(truth["kind"] == "lens") & ~(present.any(axis=1) & truth["z_bg"].notna()), "kind"] = "plain"
        sigma_px = truth[[f"sigma_px_{k}" for k in LINE_KEYS]].to_numpy(np.float64)
        truth["snr_max"] = np.nan  # lone-line SNRs are not recorded by the generator
        truth["cr_sigma_z_free_fluxes"] = file_line_bounds(truth, set_dir, sigma_px)[1]
        return _complete(truth, sigma_px)
    if name == "independent":
        truth = pd.read_csv(os.path.join(set_dir, TRUTH_FILE), keep_default_na=False,
                            na_values={"z_bg": [""], "z_fg": [""], "sigma_v_kms": [""]})
        truth["kind"] = truth["kind"].replace(KIND_NAMES["independent"])
        sigma_px = independent_line_widths(truth, set_dir)
        flux = truth[[f"flux_{k}" for k in LINE_KEYS]].to_numpy(np.float64)
        matched_snr, truth["cr_sigma_z_free_fluxes"] = file_line_bounds(truth, set_dir, sigma_px, flux)
        return _complete(truth, sigma_px, matched_snr)
    raise ValueError(f"unknown set {name!r}; choose one of {', '.join(SET_NAMES)}")


def independent_line_widths(truth: pd.DataFrame, set_dir: str) -> np.ndarray:
    """Observed sigma (pixels) of each background line of the ``independent`` set's lenses: the set's sigma_v
    with the file's own wdisp at the line (read with the product's reader)."""
    from casiglo_gui.core.readers import read_spectrum

    sigma_px = np.zeros((len(truth), len(LINE_KEYS)))
    for i, row in enumerate(truth.itertuples(index=False)):
        if row.kind != "lens":
            continue
        spectrum = read_spectrum(os.path.join(set_dir, row.file))
        observed = REST_VACUUM_A * (1.0 + float(row.z_bg))
        pixel = np.clip(np.searchsorted(spectrum.wavelength, observed), 0, spectrum.wavelength.size - 1)
        wdisp = spectrum.wdisp[pixel] if spectrum.wdisp is not None else np.ones(len(LINE_KEYS))
        sigma_px[i] = total_sigma_px(float(row.sigma_v_kms), wdisp)
    return sigma_px


def file_line_bounds(truth: pd.DataFrame, set_dir: str, sigma_px: np.ndarray,
                     flux: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per lens, from its file's ivar (product reader, its mask): each line's matched-filter SNR and the
    Cramer-Rao sigma_z with unknown line fluxes (``LineSet.shift_information``).

    Line fluxes are ``flux`` when given, else recovered from the truth's ``snr_<key>`` (flux = SNR over the
    SNR of a unit flux in that file).
    """
    from casiglo_gui.core.readers import read_spectrum

    snr = np.zeros((len(truth), len(LINE_KEYS)))
    sigma_z = np.full(len(truth), np.nan)
    for i, row in enumerate(truth.itertuples(index=False)):
        if row.kind != "lens":
            continue
        spectrum = read_spectrum(os.path.join(set_dir, row.file))
        ivar = np.where(spectrum.mask, 0.0, spectrum.ivar).astype(np.float64)
        line_set = LineSet(np.log10(spectrum.wavelength))
        for wavelength, sigma in zip(REST_VACUUM_A * (1.0 + float(row.z_bg)), sigma_px[i]):
            line_set.add(wavelength, sigma if sigma > 0 else 1.0)
        unit = line_set.unit_snr(ivar)
        if flux is None:
            given = np.array([getattr(row, f"snr_{k}") for k in LINE_KEYS], dtype=np.float64)
            line_flux = np.where((unit > 0) & (sigma_px[i] > 0), given / np.where(unit > 0, unit, 1.0), 0.0)
        else:
            line_flux = np.where(unit > 0, flux[i], 0.0)
        snr[i] = line_flux * unit
        sigma_z[i] = shift_to_sigma_z(line_set.shift_information(line_flux, ivar), float(row.z_bg))
    return snr, sigma_z


def spec_files(name: str, set_dir: str, truth: pd.DataFrame) -> list[str]:
    """The set's spec files in truth order (missing ones are reported by the scan as errors)."""
    files = [os.path.join(set_dir, f) for f in truth["file"]]
    absent = [f for f in files if not os.path.exists(f)]
    if absent:
        print(f"warning: {len(absent)} files of the {name} truth table are missing, e.g. {absent[0]}", file=sys.stderr)
    return [f for f in files if os.path.exists(f)]
