"""Read every file under the shared real-data folders and print one line per spectrum file.

Usage: ``PYTHONPATH=. python scripts/check_real_data.py [FOLDER ...] [--backend fitsio|astropy]``
(default folders: ../shared/data/real/sdss_spec and ../shared/data/real/manga, found from the repository).
Columns: file, status (``ok`` or ``refused: <reason>``), object id, z_fg, grid shift, number of spectra.
Exit status 1 if any file raised something other than SpectrumReadError.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.readers import BACKENDS, read_spectra

REAL = Path("/work/shared/data/real")
DEFAULT_FOLDERS = [REAL / "sdss_spec", REAL / "manga"]


def spectrum_files(folders):
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and (path.name.endswith(".fits") or path.name.endswith(".fits.gz")):
                yield path


def check(path: Path, backend: str | None) -> dict:
    try:
        spectra = read_spectra(path, backend=backend)
    except SpectrumReadError as err:
        return {"file": str(path), "status": f"refused: {err.reason}", "object_id": "", "z": float("nan"),
                "shift": None, "n": 0}
    first = spectra[0]
    return {"file": str(path), "status": "ok", "object_id": first.object_id, "z": float(first.z_fg),
            "shift": first.grid_shift, "n": len(spectra)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=DEFAULT_FOLDERS)
    parser.add_argument("--backend", choices=BACKENDS, default=None)
    args = parser.parse_args(argv)
    rows, crashed = [], 0
    for path in spectrum_files([f for f in args.folders if f.exists()]):
        try:
            rows.append(check(path, args.backend))
        except Exception as exc:  # report, never hide: this is what the script exists to find
            crashed += 1
            rows.append({"file": str(path), "status": f"CRASH {type(exc).__name__}: {exc}", "object_id": "",
                         "z": float("nan"), "shift": None, "n": 0})
    width = max((len(Path(r["file"]).name) for r in rows), default=10)
    print(f"{'file':<{width}}  {'object_id':<18} {'z_fg':>9} {'shift':>6} {'n':>3}  status")
    for r in rows:
        shift = "" if r["shift"] is None else str(r["shift"])
        print(f"{Path(r['file']).name:<{width}}  {r['object_id']:<18} {r['z']:>9.5f} {shift:>6} {r['n']:>3}  "
              f"{r['status']}")
    ok = sum(r["status"] == "ok" for r in rows)
    print(f"\n{len(rows)} files: {ok} read, {len(rows) - ok - crashed} refused with a reason, {crashed} crashed")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
