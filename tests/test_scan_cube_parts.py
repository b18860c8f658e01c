"""A large MaNGA cube is shared by the scan's workers (core/scan/parts.py): the table and the detection
maps are the same as with one worker, and the parts' rows are joined as a whole read would give them."""
from __future__ import annotations

import csv
import gzip
import io

import numpy as np
import pytest
from astropy.io import fits

from casiglo_gui import cli
from casiglo_gui.core.readers import open_cube
from casiglo_gui.core.scan import parts
from casiglo_gui.core.scan.chunk import ChunkResult
from casiglo_gui.core.scan.columns import error_row
from casiglo_gui.core.scan.parts import CubeMapPart, CubePart, merge_cube_parts, split_cubes, work_chunks
from test_foreground_manga import TABLE, write_lensed_cube

CUBE = "manga-9999-9101-LOGCUBE.fits"


def _scan(cube, out, maps, workers):
    assert cli.main(["scan", str(cube), "--out", str(out), "--maps", str(maps), "--workers", str(workers),
                     "--no-progress"]) == 0
    with fits.open(maps / "manga-9999-9101-LOGCUBE-CASIGLO-MAPS.fits") as hdul:
        images = {h.name: np.array(h.data) for h in hdul[1:]}
    return out.read_text(), images


def test_a_cube_scanned_by_two_workers_gives_the_one_worker_table_and_maps(data_dir, tmp_path, monkeypatch):
    cube = tmp_path / CUBE
    write_lensed_cube(cube, data_dir / TABLE, np.random.default_rng(5))
    monkeypatch.setattr(parts, "MIN_BYTES_TO_SPLIT", 0)  # the test cube is small: split it all the same
    items = list(split_cubes([str(cube)], workers=2))
    assert len(items) == 5 and all(isinstance(i, CubePart) for i in items)  # 9 rows, 2 at a time
    one, one_maps = _scan(cube, tmp_path / "one.csv", tmp_path / "maps1", 1)
    two, two_maps = _scan(cube, tmp_path / "two.csv", tmp_path / "maps2", 2)
    assert two == one
    with open_cube(cube) as c:
        assert len(list(csv.DictReader(io.StringIO(one)))) == len(c.spaxels_with_data()) > 50
    assert one_maps.keys() == two_maps.keys() == {"SCORE", "SNR_BEST", "Z_BG", "N_LINES"}
    for name in one_maps:
        np.testing.assert_array_equal(two_maps[name], one_maps[name])


def test_small_files_compressed_cubes_and_other_formats_are_not_split(data_dir, tmp_path, monkeypatch):
    spec = str(data_dir / "sdss/spec-3650-55244-0007.fits")
    cube = str(data_dir / "manga/manga-test-5x5-LOGCUBE.fits.gz")
    assert list(split_cubes([spec, cube], workers=2)) == [spec, cube]  # small files
    monkeypatch.setattr(parts, "MIN_BYTES_TO_SPLIT", 0)
    monkeypatch.setattr(parts, "MIN_ROWS_TO_SPLIT", 2)
    plain = tmp_path / "manga-test-5x5-LOGCUBE.fits"
    plain.write_bytes(gzip.decompress((data_dir / "manga/manga-test-5x5-LOGCUBE.fits.gz").read_bytes()))
    # a spec file is never a cube, a .gz cube is read whole (each part would decompress it all again)
    assert list(split_cubes([spec, cube, str(plain)], workers=2)) == [spec, cube] + [
        CubePart(str(plain), (y, y + 1), y, 5) for y in range(5)]
    assert list(split_cubes([spec, cube, str(plain)], workers=1)) == [spec, cube, str(plain)]
    assert list(work_chunks(["a", "b", CubePart("c", (0, 2), 0, 2), CubePart("c", (2, 4), 1, 2), "d"], 64)) == [
        (0, ["a", "b"]), (1, [CubePart("c", (0, 2), 0, 2)]), (2, [CubePart("c", (2, 4), 1, 2)]), (3, ["d"])]


def _row(text):
    return [text] + [""] * 3


def _part_result(k, count, rows, **kw):
    return ChunkResult(index=k, rows_per_input=[rows], part=CubePart("cube.fits", (k, k + 1), k, count),
                       seconds={"cpu": 1.0}, **kw)


def test_a_read_error_ends_the_cubes_rows_as_in_a_whole_read():
    error = error_row("cube.fits", "MaNGA cube could not be read (OSError: bad block)")
    results = [ChunkResult(index=0, rows_per_input=[[_row("spec")]]),
               _part_result(0, 3, [_row("s0"), _row("s1")]),
               _part_result(1, 3, [_row("s2"), error], read_error=True),
               _part_result(2, 3, [_row("s4")])]
    merged = list(merge_cube_parts(results, None))
    assert [m.rows_per_input for m in merged] == [[[_row("spec")]], [[_row("s0"), _row("s1"), _row("s2"), error]]]
    assert merged[1].seconds["cpu"] == 3.0


def test_a_part_that_kills_its_worker_gives_the_cube_one_error_row():
    died = error_row("cube.fits", "worker process died while reading this file")
    reason = "worker process died while reading this file"
    results = [_part_result(0, 2, [_row("s0")]), _part_result(1, 2, [died], worker_died=reason)]
    (merged,) = merge_cube_parts(results, None)
    assert merged.rows_per_input == [[died]]


def test_a_cube_without_spectra_gets_one_row_and_maps_come_from_every_part(tmp_path):
    (merged,) = merge_cube_parts([_part_result(0, 2, []), _part_result(1, 2, [])], None)
    assert merged.rows_per_input == [[error_row("cube.fits", "file holds no spectrum")]]
    written = []
    maps = [CubeMapPart((2, 2), "1-2", [(0, 0, 0.5, 3.0, 0.4, 1)]),
            CubeMapPart((2, 2), "1-2", [(1, 1, 0.9, 8.0, 0.5, 3)])]
    results = [_part_result(k, 2, [_row(f"s{k}")], cube_map=m) for k, m in enumerate(maps)]
    (merged,) = merge_cube_parts(results, lambda path, cube_map: written.append((path, cube_map)) or "maps.fits")
    assert merged.maps_written == ["maps.fits"]
    assert written[0][1].values == maps[0].values + maps[1].values
