"""Held-out evaluation of the physics detector on seeded toy spectra.

Lenses: [OII]-only, Halpha+[NII]-only, [OIII]+Hbeta, five-line and twelve-line sets at random z_bg
(z_fg + 0.05 ... + 0.9), line widths sigma 1.1-2.6 px, strongest line at an integrated (matched-filter)
SNR drawn uniformly in [6, 30]. Negatives: pure noise, a single lone line, cosmic-ray spikes, and
emission of the foreground galaxy itself (all 12 lines at z_fg), at the same SNRs.

The score threshold is the 99th percentile of the negatives' scores (1% false positives). Printed:
the fraction of lenses above it, among those the fraction with |z_bg - z_true| < 1e-4 and the median
|dz|, per lens kind, and the fraction of foreground-emission spectra above the threshold.

Run:  OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/eval_physics.py --seed 20261124 --n 600

With ``--generator synthetic`` the held-out set comes from the project's generator
(``training.synthetic.generate``, default config: lenses and its six negative kinds); lenses are then
reported for strongest-line SNR >= 6 (the design target's population) and overall, next to what an
unbiased estimator at the Cramer-Rao bound would reach on the same lenses (from their true line SNRs
and widths: shift variance 1 / sum_c SNR_c^2 / (2 sigma_c^2) pixels^2).

``--model FILE.onnx`` evaluates the combined detector (CNN + physics refit) instead, and
``--data-config training/configs/casiglo-cnn-v3.json`` draws the set with that training recipe's data section
in the chunks of ``casiglo-train evaluate`` (the same 20,000 spectra as the model card's test set for
``--n 20000 --seed 20261124``):

    PYTHONPATH=. python benchmarks/eval_physics.py --generator synthetic --n 20000 \
        --model models/casiglo-cnn-v3.onnx --data-config training/configs/casiglo-cnn-v3.json
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from casiglo_gui.core.physics import PhysicsDetector, toy  # noqa: E402

LENS_KINDS = ("oii", "halpha_nii", "oiii_hbeta", "five", "all")
NEGATIVE_KINDS = ("noise", "single", "cosmic", "foreground")


def draw(rng, kind):
    sigma = float(rng.uniform(1.1, 2.6))
    line_snr = float(rng.uniform(6.0, 30.0))
    # Matched-filter SNR of a unit-peak Gaussian over unit noise = sqrt(sum g^2) ~ (sigma sqrt(pi))^0.5
    peak = line_snr / np.sqrt(sigma * np.sqrt(np.pi))
    return toy.make(rng, kind, peak_snr=peak, sigma_px=sigma), line_snr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--n", type=int, default=600, help="spectra per kind (toy) or in all (synthetic)")
    ap.add_argument("--generator", choices=("toy", "synthetic"), default="toy")
    ap.add_argument("--model", help="synthetic only: evaluate the combined detector with this ONNX model")
    ap.add_argument("--data-config", help="synthetic only: training config whose 'data' recipe draws the set")
    args = ap.parse_args()
    print("command: OMP_NUM_THREADS=1 PYTHONPATH=. python " + " ".join(sys.argv))
    if args.generator == "synthetic":
        return evaluate_synthetic(args.n, args.seed, args.model, args.data_config)
    rng = np.random.default_rng(args.seed)
    det = PhysicsDetector(refine_above=0.0)  # refine every detection: the z precision is measured on all
    results = {}
    t0 = time.perf_counter()
    for kind in LENS_KINDS + NEGATIVE_KINDS:
        spectra = [draw(rng, kind) for _ in range(args.n)]
        r = np.stack([s.residual for s, _ in spectra])
        w = np.stack([s.ivar for s, _ in spectra])
        z = np.array([s.z_fg for s, _ in spectra])
        dets = det.detect_batch(r, w, z)
        results[kind] = (np.array([d.score for d in dets]), np.array([d.z_bg for d in dets]),
                         np.array([s.z_bg for s, _ in spectra]), np.array([q for _, q in spectra]),
                         np.array([d.z_bg_err for d in dets]))
    print(f"evaluated {args.n * (len(LENS_KINDS) + len(NEGATIVE_KINDS))} spectra in {time.perf_counter() - t0:.1f} s")
    neg = np.concatenate([results[k][0] for k in NEGATIVE_KINDS])
    thr = float(np.quantile(neg, 0.99))
    print(f"threshold at 1% false positives (negatives: {', '.join(NEGATIVE_KINDS)}): score > {thr:.4f}")
    for k in NEGATIVE_KINDS:
        print(f"  negatives {k:12s} above threshold: {np.mean(results[k][0] > thr):6.1%}   "
              f"score > 0.5: {np.mean(results[k][0] > 0.5):6.1%}")
    all_det, all_dz = [], []
    print(f"{'lens kind':12s} {'detected':>9s} {'|dz|<1e-4':>10s} {'median|dz|':>11s}")
    all_pull = []
    for k in LENS_KINDS:
        score, zb, zt, _, zerr = results[k]
        hit = score > thr
        dz = np.abs(zb - zt)[hit]
        all_det.append(hit)
        all_dz.append(dz)
        all_pull.append(((zb - zt) / zerr)[hit])
        print(f"{k:12s} {hit.mean():9.1%} {np.mean(dz < 1e-4) if dz.size else float('nan'):10.1%} "
              f"{np.median(dz) if dz.size else float('nan'):11.2e}")
    hit = np.concatenate(all_det)
    dz = np.concatenate(all_dz)
    print(f"{'ALL lenses':12s} {hit.mean():9.1%} {np.mean(dz < 1e-4):10.1%} {np.median(dz):11.2e}")
    pull = np.concatenate(all_pull)
    fine = (dz < 1e-3) & np.isfinite(pull)
    print(f"catastrophic (|dz| > 1e-3) among detected: {np.mean(dz >= 1e-3):.1%}; "
          f"pull (dz / z_bg_err) robust std of the rest: {1.4826 * np.median(np.abs(pull[fine])):.2f}")
    snr = np.concatenate([results[k][3] for k in LENS_KINDS])
    snr_det = snr[hit]
    for lo, hi in ((6, 10), (10, 15), (15, 20), (20, 30)):
        m = (snr >= lo) & (snr < hi)
        md = (snr_det >= lo) & (snr_det < hi)
        print(f"  strongest-line SNR {lo:2d}-{hi:2d}: detected {hit[m].mean():6.1%}; among those "
              f"|dz|<1e-4 {np.mean(dz[md] < 1e-4):6.1%}, median |dz| {np.median(dz[md]):.2e}")
    return 0


def cramer_rao_sigma_z(line_snr: np.ndarray, line_sigma_a: np.ndarray, z_bg: np.ndarray) -> np.ndarray:
    """1-sigma redshift error of an unbiased estimator at the Cramer-Rao bound, per spectrum.

    A Gaussian line of matched-filter SNR ``S`` and sigma ``s`` pixels carries Fisher information
    ``S^2 / (2 s^2)`` on its centre (pixels^-2); the lines share one redshift, so their information adds.
    """
    from casiglo_gui.core import grid, lines

    z_bg = np.asarray(z_bg, dtype=np.float64)
    observed_a = lines.REST_WAVELENGTHS_A[None, :] * (1.0 + z_bg[:, None])
    sigma_px = np.asarray(line_sigma_a, np.float64) / (observed_a * grid.LN10 * grid.DLOGLAM)
    with np.errstate(divide="ignore", invalid="ignore"):
        info = np.where(sigma_px > 0, np.asarray(line_snr, np.float64) ** 2 / (2.0 * sigma_px ** 2), 0.0)
        sigma_shift = 1.0 / np.sqrt(np.sum(info, axis=1))  # inf without lines
    return (1.0 + z_bg) * grid.LN10 * grid.DLOGLAM * sigma_shift


def ideal_precision(sigma_z: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Fraction within 1e-4 and median |dz| expected of an estimator at the bound."""
    from scipy.special import erf

    within = float(np.mean(erf(1e-4 / (np.sqrt(2.0) * sigma_z))))
    draws = np.abs(np.random.default_rng(seed).normal(size=(200, sigma_z.size)) * sigma_z)
    return within, float(np.median(draws))


def evaluate_synthetic(n: int, seed: int, model: str | None = None, data_config: str | None = None) -> int:
    """Detection and redshift precision on the project's synthetic generator (held-out seed)."""
    import json

    from training.synthetic import KINDS, SyntheticBatch, generate

    t0 = time.perf_counter()
    if data_config:
        from training.evaluate import generate_chunks

        with open(data_config, encoding="utf-8") as f:
            recipe = json.load(f).get("data", {})
        batch = SyntheticBatch.concatenate(list(generate_chunks(n, seed, recipe, 2000)))
    else:
        batch = generate(n, seed=seed)
    if model:
        from casiglo_gui.core.detectors import EvidenceDetector
        from casiglo_gui.core.inference import OnnxLineModel

        det = EvidenceDetector(OnnxLineModel(model))
    else:
        det = PhysicsDetector(refine_above=0.0)
    dets = det.detect_batch(batch.residual, batch.ivar, batch.z_fg)
    print(f"generated and evaluated {n} spectra in {time.perf_counter() - t0:.1f} s")
    score = np.array([d.score for d in dets])
    zb = np.array([d.z_bg for d in dets])
    lens = batch.is_lens
    kind = np.asarray(batch.kind)
    thr = float(np.quantile(score[~lens], 0.99))
    print(f"threshold at 1% false positives over {int((~lens).sum())} negatives: score > {thr:.4f}")
    for code, name in enumerate(KINDS):
        m = kind == code
        if name != "lens" and m.any():
            print(f"  negatives {name:14s} n={int(m.sum()):5d} above threshold {np.mean(score[m] > thr):6.1%}")
    peak = np.max(batch.line_snr, axis=1)
    for label, sel in (("all lenses", lens), ("lenses, strongest line SNR >= 6", lens & (peak >= 6)),
                       ("lenses, strongest line SNR >= 10", lens & (peak >= 10))):
        hit = sel & (score > thr)
        dz = np.abs(zb - batch.z_bg)[hit]
        print(f"{label:34s} n={int(sel.sum()):5d} detected {hit.sum() / max(sel.sum(), 1):6.1%}; among detected "
              f"|dz|<1e-4 {np.mean(dz < 1e-4) if dz.size else float('nan'):6.1%}, "
              f"median |dz| {np.median(dz) if dz.size else float('nan'):.2e}")
        if dz.size:
            sigma_cr = cramer_rao_sigma_z(batch.line_snr[hit], batch.line_sigma_a[hit], batch.z_bg[hit])
            within, median = ideal_precision(sigma_cr)
            pull = (zb - batch.z_bg)[hit] / sigma_cr
            print(f"{'':34s} at the Cramer-Rao bound: |dz|<1e-4 {within:6.1%}, median |dz| {median:.2e}; "
                  f"dz / sigma_CR robust std {1.4826 * np.median(np.abs(pull)):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
