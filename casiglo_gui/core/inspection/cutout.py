"""Sky cutouts around an object from the Legacy Survey cutout service, cached on disk (Qt-free).

Optional: nothing is fetched unless asked (the app fetches on a worker thread, never the GUI thread).
A fetch either gives a JPEG file (from the cache, or downloaded and then cached) or says plainly why
not: no sky position, offline / service unreachable, or a response that is not an image (never cached).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

LEGACY_CUTOUT_URL = "https://www.legacysurvey.org/viewer/cutout.jpg"
DEFAULT_LAYER = "ls-dr10"
DEFAULT_PIXSCALE = 0.262      # arcsec per pixel (the Legacy Surveys' native scale)
DEFAULT_SIZE_PX = 256         # 67 arcsec across: arcs of Einstein radius ~1-3 arcsec sit in the centre
TIMEOUT_S = 8.0
MAX_BYTES = 4 << 20
JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True)
class CutoutResult:
    path: Path | None
    state: str        # "cached", "fetched", "offline", "no position", "bad response"
    message: str


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("casiglo", appauthor=False)) / "cutouts"


class CutoutFetcher:
    """Fetch and cache cutouts. ``base_url`` is the service's cutout.jpg (a local server in tests)."""

    def __init__(self, cache_dir: str | Path | None = None, base_url: str = LEGACY_CUTOUT_URL,
                 layer: str = DEFAULT_LAYER, pixscale: float = DEFAULT_PIXSCALE, size_px: int = DEFAULT_SIZE_PX,
                 timeout_s: float = TIMEOUT_S):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.base_url = base_url
        self.layer, self.pixscale, self.size_px, self.timeout_s = layer, pixscale, size_px, timeout_s

    def url(self, ra: float, dec: float) -> str:
        query = {"ra": f"{ra:.6f}", "dec": f"{dec:.6f}", "layer": self.layer, "pixscale": self.pixscale,
                 "size": self.size_px}
        return f"{self.base_url}?{urlencode(query)}"

    def cache_path(self, ra: float, dec: float) -> Path:
        return self.cache_dir / f"{self.layer}_{ra:.6f}_{dec:+.6f}_{self.pixscale:g}_{self.size_px}.jpg"

    def fetch(self, ra: float | None, dec: float | None) -> CutoutResult:
        """The cutout at (ra, dec) in degrees: from the cache, else downloaded (and cached)."""
        if ra is None or dec is None or not (abs(dec) <= 90 and ra == ra and dec == dec):
            return CutoutResult(None, "no position", "no sky position for this spectrum")
        path = self.cache_path(ra, dec)
        if path.is_file():
            return CutoutResult(path, "cached", f"cutout from the cache ({path.name})")
        # Imported here: urllib.request brings http.client and ssl (~70 ms), which the first spectrum does not need.
        import urllib.error
        import urllib.request

        url = self.url(ra, dec)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                data = response.read(MAX_BYTES + 1)
        except urllib.error.HTTPError as exc:
            return CutoutResult(None, "bad response", f"cutout service answered HTTP {exc.code} for {url}")
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            return CutoutResult(None, "offline", f"offline or cutout service unreachable ({reason})")
        if len(data) > MAX_BYTES or not data.startswith(JPEG_MAGIC):
            return CutoutResult(None, "bad response", f"cutout service sent no JPEG image ({len(data)} bytes)")
        self._store(path, data)
        return CutoutResult(path, "fetched", f"cutout fetched from {self.base_url.split('/')[2]}")

    def _store(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)  # atomic: a half-written cutout is never read back
