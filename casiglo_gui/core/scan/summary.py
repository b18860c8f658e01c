"""End-of-scan summary: counts by status and the top candidates (bounded memory)."""
from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field

from .columns import COLUMN_INDEX, Row, row_score

# Error reasons are grouped by their first words (file names vary, the problem does not).
_REASON_WORDS = 6


@dataclass
class ScanSummary:
    """Counts by status and the ``top_n`` best-scoring rows seen so far."""

    top_n: int = 10
    n_inputs: int = 0
    n_rows: int = 0
    status_counts: Counter = field(default_factory=Counter)
    _top: list = field(default_factory=list)   # min-heap of (score, -row_number, row)
    seconds: dict = field(default_factory=dict)
    wall_seconds: float = 0.0
    detector: str = ""
    output: str = ""
    maps_written: list = field(default_factory=list)
    rows_resumed: int = 0  # rows already in the table when a resumed scan started
    model_sources: Counter = field(default_factory=Counter)  # searched spectra of this run, by model source

    def add_rows(self, rows: list[Row]) -> None:
        for row in rows:
            self.n_rows += 1
            status = row[COLUMN_INDEX["status"]]
            if status == "ok":
                self.status_counts["ok"] += 1
                item = (row_score(row), -self.n_rows, row)
                if len(self._top) < self.top_n:
                    heapq.heappush(self._top, item)
                elif item[:2] > self._top[0][:2]:
                    heapq.heapreplace(self._top, item)
            else:
                words = status.split()
                self.status_counts[" ".join(words[:_REASON_WORDS]) + (" ..." if len(words) > _REASON_WORDS else "")] += 1

    def add_seconds(self, seconds: dict) -> None:
        for key, value in seconds.items():
            self.seconds[key] = self.seconds.get(key, 0.0) + value

    @property
    def top(self) -> list[Row]:
        """Best rows first (ties: earlier row first)."""
        return [item[2] for item in sorted(self._top, key=lambda it: (-it[0], -it[1]))]

    @property
    def n_ok(self) -> int:
        return self.status_counts.get("ok", 0)

    @property
    def n_errors(self) -> int:
        return self.n_rows - self.n_ok

    def format(self) -> str:
        """The human-readable summary printed on stderr at the end of a scan."""
        new_rows = self.n_rows - self.rows_resumed
        lines = [f"scanned {self.n_inputs} inputs -> {self.n_rows} rows in {self.output}"
                 + (f" ({new_rows} rows this run in {self.wall_seconds:.1f} s, "
                    f"{new_rows / self.wall_seconds:.0f} rows/s)" if self.wall_seconds > 0 else "")]
        if self.maps_written:
            lines.append(f"detection maps: {len(self.maps_written)} file(s), e.g. {self.maps_written[0]}")
        if self.model_sources:
            counts = ", ".join(f"{source} {count}" for source, count in
                               sorted(self.model_sources.items(), key=lambda kv: (-kv[1], kv[0])))
            lines.append(f"foreground models (spectra searched this run): {counts}")
        lines.append("status counts:")
        for status, count in sorted(self.status_counts.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {count:8d}  {status}")
        top = self.top
        if top:
            lines.append(f"top {len(top)} candidates:")
            lines.append(f"  {'score':>6} {'z_fg':>8} {'z_bg':>9} {'lines':>5}  object_id  source")
            for row in top:
                c = COLUMN_INDEX
                z_fg = float(row[c["z_fg"]]) if row[c["z_fg"]] else float("nan")
                z_bg = float(row[c["z_bg"]]) if row[c["z_bg"]] else float("nan")
                lines.append(f"  {row_score(row):6.3f} {z_fg:8.5f} {z_bg:9.6f} {row[c['n_lines']]:>5}  "
                             f"{row[c['object_id']]}  {row[c['source']]}")
        return "\n".join(lines)
