"""Every real file collected in shared/data/real is read or refused with a stated reason, and what is read
agrees with the MANIFEST (plate-mjd-fiber, Z, PLUG_RA/DEC, grid shift). Skipped where shared/ is absent:
the tests that must run everywhere use the copies under tests/data."""
from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pytest

from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.readers import read_spectra

REAL = Path("/work/shared/data/real")
MANIFEST = REAL / "MANIFEST.md"
FOLDERS = [REAL / "sdss_spec", REAL / "manga"]
# Grid shifts stated in the MANIFEST: SDSS-I/II +177...+242, BOSS -74...-72, eBOSS v5_13 -17.
SHIFT_RANGES = {"sdss": (177, 242), "boss": (-74, -72), "eboss": (-17, -17), "manga": (0, 0)}
# Files the MANIFEST describes as unusable, and the reason we must give.
EXPECTED_REFUSALS = {
    "ppxf_NGC3522_SDSS_DR8.fits": "not a recognised spectrum file",
    "spec-0269-51581-0003.fits": "ivar is zero at every pixel",
    "manga-7815-3702-MAPS-HYB10-GAU-MILESHC.fits.gz": "MaNGA DAP MAPS file",
    "manga-8080-12701-MAPS-VOR10-GAU-MILESHC.fits.gz": "MaNGA DAP MAPS file",
}

pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason="shared/data/real is not on this machine")


def real_files():
    if not MANIFEST.exists():
        return []
    return sorted(p for folder in FOLDERS if folder.exists() for p in folder.rglob("*")
                  if p.is_file() and (p.name.endswith(".fits") or p.name.endswith(".fits.gz")))


@functools.cache
def manifest_spec_table() -> dict[str, dict]:
    """Section 1 of the MANIFEST: file -> plate-mjd-fiber, ra, dec, z, shift."""
    rows = {}
    pattern = re.compile(r"^\| `sdss_spec/(?P<file>[^`]+)` \| (?P<pmf>\d+-\d+-\d+) \| (?P<ra>[-+\d.]+), "
                         r"(?P<dec>[-+\d.]+) \| (?P<z>[\d.]+) .*shift (?P<shift>[-+−]\d+) \|")
    for line in MANIFEST.read_text().splitlines():
        m = pattern.match(line)
        if m:
            plate, mjd, fiber = (int(v) for v in m["pmf"].split("-"))
            rows[m["file"]] = {"object_id": f"{plate:04d}-{mjd:05d}-{fiber:04d}", "ra": float(m["ra"]),
                               "dec": float(m["dec"]), "z": float(m["z"]),
                               "shift": int(m["shift"].replace("−", "-"))}
    return rows


@functools.cache
def manifest_boss_table() -> dict[str, dict]:
    """Section 8 of the MANIFEST: file -> z, ra, dec of the 90 BOSS spectra."""
    rows = {}
    pattern = re.compile(r"^\| (?P<file>spec-\d{4}-\d{5}-\d{4}\.fits) \| (?P<z>[\d.]+) \| \d+ \| \w* \| "
                         r"(?P<ra>[-+\d.]+) \| (?P<dec>[-+\d.]+) \|")
    for line in MANIFEST.read_text().splitlines():
        m = pattern.match(line)
        if m:
            rows[m["file"]] = {"z": float(m["z"]), "ra": float(m["ra"]), "dec": float(m["dec"])}
    return rows


def test_manifest_tables_parse():
    assert len(manifest_spec_table()) >= 30
    assert len(manifest_boss_table()) == 90


@pytest.mark.parametrize("path", real_files(), ids=lambda p: p.name)
def test_every_real_file_is_read_or_refused_for_a_reason(path):
    try:
        spectra = read_spectra(path)
    except SpectrumReadError as err:
        assert path.name in EXPECTED_REFUSALS, f"unexpected refusal: {err}"
        assert EXPECTED_REFUSALS[path.name] in err.reason
        return
    assert path.name not in EXPECTED_REFUSALS, "a file the MANIFEST calls unusable was read"
    assert spectra
    for s in spectra:
        lo, hi = SHIFT_RANGES[s.survey]
        assert lo <= s.grid_shift <= hi, (s.survey, s.grid_shift)
        assert s.flux.dtype.isnative and np.all(np.isfinite(s.ivar)) and s.mask.shape == s.flux.shape

    first = spectra[0]
    spec = manifest_spec_table().get(path.name)
    if spec is not None:
        assert first.object_id == spec["object_id"]
        assert first.z_fg == pytest.approx(spec["z"], abs=6e-6)
        assert first.grid_shift == spec["shift"]
        assert first.ra == pytest.approx(spec["ra"], abs=6e-6) and first.dec == pytest.approx(spec["dec"], abs=6e-6)
    boss = manifest_boss_table().get(path.name)
    if boss is not None:
        plate, mjd, fiber = path.stem.split("-")[1:]
        assert first.object_id == f"{plate}-{mjd}-{fiber}"
        assert first.z_fg == pytest.approx(boss["z"], abs=6e-6)
        assert first.ra == pytest.approx(boss["ra"], abs=6e-6) and first.dec == pytest.approx(boss["dec"], abs=6e-6)


def backend_sample():
    files = [p for p in real_files() if p.name not in EXPECTED_REFUSALS]
    boss = [p for p in files if p.parent.name.startswith("boss_plates")]
    return [p for p in files if p not in boss] + boss[::10]


@pytest.mark.parametrize("path", backend_sample(), ids=lambda p: p.name)
def test_back_ends_agree_on_real_files(path):
    from casiglo_gui.core.readers import BACKENDS

    backends = [b for b in BACKENDS if not (b == "direct" and path.name.endswith(".gz"))]
    results = [read_spectra(path, backend=b) for b in backends]
    for other in results[1:]:
        assert len(other) == len(results[0])
        for a, b in zip(results[0], other):
            for field in ("wavelength", "flux", "ivar", "mask"):
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
            np.testing.assert_equal([a.object_id, a.z_fg, a.grid_shift, a.ra, a.dec],  # NaN == NaN here
                                    [b.object_id, b.z_fg, b.grid_shift, b.ra, b.dec])
            assert (a.model is None) == (b.model is None)
            if a.model is not None:
                np.testing.assert_array_equal(a.model, b.model)
