"""Test helper: write a `casiglo scan`-style CSV with the contract columns (cells not given stay empty)."""
import csv

from casiglo_gui.core.scan.columns import COLUMNS


def write_scan(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})
    return path
