"""The info panel's content for the item on show (HTML rows, Qt-free) and the sky-image links.

Caveats that change how a score must be read (a synthetic object, no foreground model) come first as
banners, not as a small row at the bottom.
"""
from __future__ import annotations

import html
import math
from pathlib import Path
from urllib.parse import urlencode

from ..spectrum import FLAG_NO_FOREGROUND_MODEL, MODEL_DAP, MODEL_FITTED, MODEL_NONE, MODEL_PIPELINE

MODEL_WORDS = {MODEL_PIPELINE: "the survey pipeline's", MODEL_DAP: "the MaNGA DAP's",
               MODEL_FITTED: "fitted here (stellar templates)", MODEL_NONE: "none: the residual is the flux"}
LINE_COUNT_SNR = 4.0   # physics.scoring.LINE_DETECTION_SNR: what "Lines" counts (said in the panel)
SKYSERVER_URL = "https://skyserver.sdss.org/dr18/VisualTools/navi"
LEGACY_VIEWER_URL = "https://www.legacysurvey.org/viewer"

WARNING_STYLE = "background:#fde2e1; color:#7a0b0b; border:1px solid #c0392b; padding:4px; margin-bottom:4px"
SYNTHETIC_STYLE = "background:#fff3c4; color:#5b4500; border:1px solid #c9a227; padding:4px; margin-bottom:4px"


def sky_links(ra: float | None, dec: float | None) -> dict[str, str]:
    """Viewer links for a sky position (degrees, ICRS): ``{name: url}``; empty without a finite position."""
    if ra is None or dec is None or not (math.isfinite(ra) and math.isfinite(dec)):
        return {}
    position = {"ra": f"{ra:.6f}", "dec": f"{dec:.6f}"}
    return {
        "SDSS SkyServer": f"{SKYSERVER_URL}?{urlencode({**position, 'scale': 0.2})}",
        "Legacy Survey": f"{LEGACY_VIEWER_URL}?{urlencode({**position, 'layer': 'ls-dr10', 'zoom': 16})}",
    }


def _num(value, fmt: str) -> str:
    return format(value, fmt) if value is not None and math.isfinite(value) else "—"


def _identity(meta: dict) -> str:
    if "ifu" in meta:
        return f"plate-ifu {meta.get('plate')}-{meta.get('ifu')}"
    if "fiber" in meta:
        return f"plate-mjd-fiber {meta.get('plate'):04d}-{meta.get('mjd'):05d}-{meta.get('fiber'):04d}"
    return ""


def banners(session) -> list[str]:
    """Prominent caveats for the item on show, as HTML blocks."""
    out = []
    loaded, state = session.loaded, session.state
    if loaded is not None and loaded.synthetic is not None:
        out.append(f"<div style='{SYNTHETIC_STYLE}'><b>SYNTHETIC sample object</b>: injected lines at "
                   f"z_bg = {_num(loaded.synthetic.injected_z_bg, '.4f')} on a real foreground "
                   f"({html.escape(loaded.synthetic.made_from)}). Grades are stored as SYNTHETIC-…, without a sky "
                   f"position: never in a real target list.</div>")
    if state is not None and has_no_foreground_model(state.spectrum):
        out.append(f"<div style='{WARNING_STYLE}'><b>No foreground model</b>: the residual is the raw flux, so "
                   f"the galaxy's own lines and continuum look like background lines. The score and the line "
                   f"count are <b>not</b> evidence of a lens here.</div>")
    return out


def has_no_foreground_model(spectrum) -> bool:
    return FLAG_NO_FOREGROUND_MODEL in spectrum.flags or getattr(spectrum, "model_source", "") == MODEL_NONE


def foreground_model_words(spectrum) -> str:
    source = getattr(spectrum, "model_source", "")
    words = MODEL_WORDS.get(source, source or "—")
    chi2 = spectrum.meta.get("foreground_chi2")
    return words + (f", χ²/pixel {chi2:.2f}" if source == MODEL_FITTED and isinstance(chi2, (int, float)) else "")


def solution_rows(state) -> str:
    """The detector's solutions (best first), the one on show marked; N cycles through them."""
    labelled = state.labelled_solutions()
    if not labelled:
        return "none found"
    parts = []
    for i, (origin, solution) in enumerate(labelled):
        text = (f"{i + 1}. z_bg {solution.z_bg:.5f} · score {_num(solution.score, '.3f')} · "
                f"{solution.n_lines} lines" + (" (next-best)" if origin.startswith("alternative") else ""))
        parts.append(f"<b>▶ {html.escape(text)}</b>" if origin == state.z_origin else html.escape(text))
    hint = " <i>(N: next)</i>" if len(labelled) > 1 or state.z_origin != labelled[0][0] else ""
    return "<br>".join(parts) + hint


DETECTING = "<i>detecting…</i> (grading waits for the verdict)"


def info_rows(session) -> tuple[list[str], list[tuple[str, str]]]:
    """(banners, rows of (name, HTML value)) describing the item on show."""
    state, loaded = session.state, session.loaded
    s, d = state.spectrum, state.detection
    links = sky_links(s.ra, s.dec)
    position = f"{_num(s.ra, '.5f')}, {_num(s.dec, '.5f')}"
    if links:
        position += "<br>" + " · ".join(f"<a href='{html.escape(url)}'>{html.escape(name)}</a>"
                                        for name, url in links.items())
    z_err = f" ± {state.z_err:.5f}" if math.isfinite(state.z_err) else ""
    pending = DETECTING if loaded is not None and loaded.detection_pending else ""
    rows = [
        ("Object", html.escape(s.object_id)), ("ID", html.escape(_identity(s.meta))),
        ("RA, Dec", position), ("z_fg", _num(s.z_fg, ".5f")),
        ("Foreground model", html.escape(foreground_model_words(s))),
        ("z_bg shown", f"{state.z:.5f}{z_err} ({html.escape(state.z_origin)})"),
        ("Score", _num(d.score, ".3f") if d is not None else pending or "—"),
        (f"Lines (S/N ≥ {LINE_COUNT_SNR:g})",
         f"{d.n_lines} line(s) with S/N ≥ {LINE_COUNT_SNR:g} at the detector's z_bg" if d is not None
         else pending or "—"),
        ("Model", html.escape(d.model_version or "none (physics search)") if d is not None else pending or "none"),
        ("Solutions", solution_rows(state)),
    ]
    if state.refit is not None:
        r = state.refit
        rows.append(("Refit", f"z_bg {r.z_bg:.5f} ± {_num(r.z_bg_err, '.5f')} (physics, fit score "
                              f"{_num(r.score, '.2f')}; X: back to the detector's)"))
    scan = loaded.scan_detection if loaded is not None else None
    if scan is not None:
        rows.append(("Scan table", f"score {_num(scan.score, '.3f')}, z_bg {_num(scan.z_bg, '.5f')}"))
    rows += [
        ("Line values", f"p: {html.escape(state.probability_source)}; S/N: {html.escape(state.snr_source)}"),
        ("A grade records", html.escape(session.grade_record_summary())),
        ("Survey", html.escape(s.survey)), ("File", html.escape(Path(s.source).name)),
    ]
    other = sorted(set(s.flags) - {FLAG_NO_FOREGROUND_MODEL})
    if other:
        rows.append(("Caveats", html.escape(", ".join(other))))
    return banners(session), rows
