"""Spectra read per second from real spec-*.fits files, per FITS back-end, and read + to_model_grid.

Usage: ``PYTHONPATH=. python benchmarks/bench_read.py [FOLDER] [--rounds N]``. Default folder:
shared/data/real/sdss_spec/boss_plates_3650_3651 (90 BOSS spec-lite files) if present, else tests/data/sdss.
Files are read once before timing so that every back-end sees a warm page cache.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from casiglo_gui.core.errors import SpectrumReadError
from casiglo_gui.core.preprocessing import to_model_grid
from casiglo_gui.core.readers import BACKENDS, read_spectrum

ROOT = Path(__file__).resolve().parents[1]
BOSS = Path("/work/shared/data/real/sdss_spec/boss_plates_3650_3651")
FALLBACK = ROOT / "tests" / "data" / "sdss"


def readable(files, backend):
    out = []
    for path in files:
        try:
            read_spectrum(path, backend=backend)
        except SpectrumReadError:
            continue
        out.append(path)
    return out


def time_per_file(files, rounds, work):
    """Median over rounds of the mean wall time per file, median wall time per file, and CPU time per
    file (seconds). CPU time is the steadier figure on a shared machine."""
    per_round, per_file = [], []
    cpu_start = time.process_time()
    for _ in range(rounds):
        start = time.perf_counter()
        for path in files:
            t0 = time.perf_counter()
            work(path)
            per_file.append(time.perf_counter() - t0)
        per_round.append((time.perf_counter() - start) / len(files))
    cpu = (time.process_time() - cpu_start) / (rounds * len(files))
    return statistics.median(per_round), statistics.median(per_file), cpu


def bench_cube(size: int) -> None:
    """Spaxel spectra per second from a DR17-layout LOGCUBE built from the real MaNGA test spectra."""
    import tempfile

    import numpy as np

    from casiglo_gui.core.readers import open_cube
    from casiglo_gui.core.readers.fitsfile import astropy_fits

    fits = astropy_fits()
    with fits.open(ROOT / "tests" / "data" / "manga" / "MaNGA_test_spectra.fits.gz") as hdul:
        src = {name: np.array(hdul[name].data) for name in ("WAVE", "FLUX", "IVAR", "MASK")}
    rows = np.arange(size * size).reshape(size, size) % 8
    cube = {name: np.ascontiguousarray(np.moveaxis(src[name][rows], -1, 0)) for name in ("FLUX", "IVAR", "MASK")}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cube.fits"
        primary = fits.PrimaryHDU()
        primary.header["PLATEIFU"] = "bench-1"
        hdus = [primary] + [fits.ImageHDU(cube[n], name=n) for n in ("FLUX", "IVAR", "MASK")]
        fits.HDUList(hdus + [fits.ImageHDU(src["WAVE"], name="WAVE")]).writeto(path)
        start = time.perf_counter()
        with open_cube(path) as c:
            n = sum(1 for _ in c)
        elapsed = time.perf_counter() - start
        print(f"LOGCUBE {size}x{size}x{cube['FLUX'].shape[0]} ({path.stat().st_size / 1e6:.0f} MB, memory-mapped): "
              f"open + iterate {n} spaxels {n / elapsed:.0f} spectra/s")
        with open_cube(path) as c:
            start = time.perf_counter()
            for y in range(0, size, 3):
                for x in range(0, size, 3):
                    c.spaxel(x, y)
            k = len(range(0, size, 3)) ** 2
            print(f"random spaxel access: {(time.perf_counter() - start) / k * 1e3:.2f} ms per spaxel; ", end="")
            start = time.perf_counter()
            c.aperture(size / 2, size / 2, 3)
            print(f"aperture r=3: {(time.perf_counter() - start) * 1e3:.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=BOSS if BOSS.exists() else FALLBACK)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cube-size", type=int, default=32, help="spaxels per side of the synthetic LOGCUBE")
    args = parser.parse_args(argv)
    files = readable(sorted(args.folder.glob("spec-*.fits")), None)
    if not files:
        print(f"no readable spec-*.fits in {args.folder}")
        return 1
    print(f"{len(files)} spec files from {args.folder}, {args.rounds} rounds (median); machine shared, figures noisy")
    print(f"{'back-end':<22} {'spectra/s':>10} {'median ms/file':>15} {'CPU ms/file':>12}")
    results = {}
    for backend in ("auto",) + BACKENDS:
        b = None if backend == "auto" else backend
        mean, median, cpu = time_per_file(files, args.rounds, lambda p, b=b: read_spectrum(p, backend=b))
        results[backend] = cpu
        label = "auto (direct->fitsio)" if backend == "auto" else backend
        print(f"{label:<22} {1 / mean:>10.0f} {median * 1e3:>15.3f} {cpu * 1e3:>12.3f}")
    mean, median, cpu = time_per_file(files, args.rounds, lambda p: to_model_grid(read_spectrum(p)))
    print(f"{'read + to_model_grid':<22} {1 / mean:>10.0f} {median * 1e3:>15.3f} {cpu * 1e3:>12.3f}")
    bench_cube(args.cube_size)
    if "fitsio" in results:
        print(f"CPU-time speed-up direct vs fitsio: {results['fitsio'] / results['direct']:.1f}x; "
              f"fitsio vs astropy: {results['astropy'] / results['fitsio']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
