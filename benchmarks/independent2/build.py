"""Write a whole set: spec files, ``truth.csv`` and ``set.json``."""
from __future__ import annotations

import csv
import json
import os
from collections import Counter
from typing import Callable

import numpy as np

from .foreground import EigenBasis
from .population import KIND_PROBABILITIES, Recipe
from .sky import SkyLineList
from .spectral_lines import LINE_KEYS, REST_VACUUM_A
from .writer import spec_name, write_spec

RECIPE_VERSION = "independent2-1"
TRUTH_COLUMNS = (
    ["file", "object_id", "is_lens", "kind", "lens_type", "layout", "z_fg", "z_bg", "sigma_v_kms",
     "snr_total", "snr_max", "strongest_line", "n_lines_snr4", "cr_sigma_z", "cr_sigma_z_free_fluxes",
     "noise_scale", "median_ivar", "model_mismatch", "balmer_decrement", "oii_ratio", "sii_ratio", "detail"]
    + [f"flux_{k}" for k in LINE_KEYS] + [f"snr_{k}" for k in LINE_KEYS] + [f"sigma_px_{k}" for k in LINE_KEYS])
TRUTH_DEFAULTS = {"strongest_line": "", "n_lines_snr4": 0, "snr_total": 0.0, "snr_max": 0.0,
                  "cr_sigma_z": np.nan, "cr_sigma_z_free_fluxes": np.nan}


def file_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of file ``index``: the set depends on (seed, index) only, not on the order of work."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))


def _cell(value):
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, float):
        return "" if not np.isfinite(value) else repr(value)
    return value


def build_set(out_dir: str, n: int, seed: int, recipe: Recipe | None = None,
              progress: Callable[[int], None] | None = None) -> dict:
    """Write ``n`` files into ``out_dir``; returns the count per kind."""
    recipe = recipe or Recipe(EigenBasis.load(), SkyLineList.load())
    os.makedirs(out_dir, exist_ok=True)
    counts: Counter = Counter()
    with open(os.path.join(out_dir, "truth.csv"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRUTH_COLUMNS, extrasaction="raise")
        writer.writeheader()
        for index in range(n):
            rng = file_rng(seed, index)
            sim = recipe.simulate(rng)
            name, plate, mjd, fiber = spec_name(index, seed)
            ra, dec = rng.uniform(0.0, 360.0), float(np.degrees(np.arcsin(rng.uniform(-0.2, 1.0))))
            write_spec(os.path.join(out_dir, name), sim, plate, mjd, fiber, ra, dec)
            row = {c: "" for c in TRUTH_COLUMNS} | {f"{p}_{k}": 0.0 for p in ("flux", "snr", "sigma_px")
                                                   for k in LINE_KEYS}
            row |= TRUTH_DEFAULTS | sim.truth
            row.update(file=name, object_id=f"{plate:04d}-{mjd:05d}-{fiber:04d}")
            writer.writerow({k: _cell(v) for k, v in row.items()})
            counts[sim.truth["kind"] if sim.truth["kind"] != "lens" else f"lens_{sim.truth['lens_type']}"] += 1
            if progress:
                progress(index + 1)
    return dict(sorted(counts.items()))


def write_manifest(out_dir: str, recipe: Recipe, info: dict) -> None:
    manifest = {"recipe": RECIPE_VERSION, **info, "kind_probabilities": KIND_PROBABILITIES,
                "eigenspectra": recipe.basis.source, "sky_lines": recipe.sky_lines.source,
                "rest_wavelengths_vacuum_a": dict(zip(LINE_KEYS, REST_VACUUM_A.tolist()))}
    with open(os.path.join(out_dir, "set.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")
