"""One simulated spectrum of each kind and its truth (the recipe; no file I/O).

Kinds (probabilities ``KIND_PROBABILITIES``): ``lens`` (background lines at z_bg > z_fg: a whole
emission-line galaxy, or ``oii_only`` sources at z_bg 0.9-1.7), and negatives ``plain`` (the foreground
alone), ``fg_emission`` (an emission-line galaxy at z_fg), ``lone_line`` (one Gaussian line of SNR 6-30,
any wavelength and width), ``cosmic`` (1-3 spikes of 1-2 pixels) and ``sky_residual`` (the sky lines
imperfectly subtracted: a sub-pixel wavelength error and a scale error).

SNR everywhere is the matched-filter SNR of the pixel-integrated profile given the file's ivar,
sqrt(sum_i (F phi_i)^2 ivar_i) over pixels with ivar > 0; the total of a set of lines is their quadrature sum.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import instrument, nebular
from .foreground import EigenBasis, foreground
from .profiles import LineSet, cramer_rao_sigma_z, shift_to_sigma_z, total_sigma_px
from .sky import SkyLineList, draw_sky
from .spectral_lines import LINE_KEYS, LOGLAM_STEP, REST_VACUUM_A

KIND_PROBABILITIES = {"lens": 0.5, "plain": 0.1, "fg_emission": 0.1, "lone_line": 0.15, "cosmic": 0.075,
                      "sky_residual": 0.075}
OII_ONLY_FRACTION = 0.3
BOSS_FRACTION = 0.75
LENS_TOTAL_SNR = (5.0, 120.0)        # log-uniform, quadrature over the lines
FG_EMISSION_TOTAL_SNR = (5.0, 60.0)  # log-uniform
LONE_LINE_SNR = (6.0, 30.0)          # log-uniform
SIGMA_V_KMS = (30.0, 300.0)          # log-uniform, one per galaxy
NOISE_SCALE = (0.02, 0.5)            # log-uniform: variance per unit of sky + object flux
EDGE_PX = 20                          # lines and spikes stay this far from the ends


@dataclass
class Simulated:
    """The columns of one spec file and its truth row."""

    loglam: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    and_mask: np.ndarray
    model: np.ndarray
    sky: np.ndarray
    wdisp: np.ndarray
    layout: instrument.Layout
    z_fg: float
    truth: dict = field(default_factory=dict)


def log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def choose_kind(rng: np.random.Generator) -> str:
    kinds = list(KIND_PROBABILITIES)
    p = np.array([KIND_PROBABILITIES[k] for k in kinds])
    return kinds[int(rng.choice(len(kinds), p=p / p.sum()))]


class Recipe:
    """Everything fixed for a whole set: the eigenspectra and the sky-line list."""

    def __init__(self, basis: EigenBasis, sky_lines: SkyLineList):
        self.basis = basis
        self.sky_lines = sky_lines

    def simulate(self, rng: np.random.Generator, kind: str | None = None) -> Simulated:
        kind = kind or choose_kind(rng)
        layout = instrument.BOSS if rng.random() < BOSS_FRACTION else instrument.SDSS
        loglam = instrument.draw_loglam(rng, layout)
        lam = 10.0 ** loglam
        wdisp = instrument.draw_wdisp(rng, layout, lam)
        throughput = instrument.draw_throughput(rng, layout, lam)
        z_fg = float(rng.uniform(0.1, 0.7) if layout is instrument.BOSS else rng.uniform(0.03, 0.35))
        galaxy, model, fg_info = foreground(rng, self.basis, loglam, z_fg, log_uniform(rng, (0.3, 10.0)))
        sky = draw_sky(rng, self.sky_lines, loglam, wdisp)
        scale = log_uniform(rng, NOISE_SCALE)
        read = rng.uniform(0.5, 2.0) * np.sqrt(scale)
        and_mask, rejected = instrument.draw_flags(rng, loglam.size)

        def ivar_of(object_flux):
            var = instrument.variance(object_flux, sky.total, throughput, scale, read)
            return np.where(rejected, 0.0, 1.0 / var)

        ivar0 = ivar_of(galaxy)
        truth = {"kind": kind, "is_lens": kind == "lens", "lens_type": "", "layout": layout.name,
                 "z_fg": z_fg, "z_bg": np.nan, "sigma_v_kms": np.nan, "noise_scale": scale,
                 "median_ivar": float(np.median(ivar0[ivar0 > 0])), "model_mismatch": fg_info["model_mismatch"],
                 "detail": ""}
        lines = np.zeros(loglam.size)
        if kind == "lens":
            lines = self._lens(rng, loglam, wdisp, z_fg, ivar0, truth)
        elif kind == "fg_emission":
            lines = self._fg_emission(rng, loglam, wdisp, z_fg, ivar0, truth)
        elif kind == "lone_line":
            lines = self._lone_line(rng, loglam, wdisp, ivar0, truth)
        obj = galaxy + lines
        ivar = ivar_of(obj)
        noise = rng.normal(0.0, 1.0, loglam.size) / np.sqrt(np.where(ivar > 0, ivar, 1.0))
        flux = np.where(rejected, 0.0, obj + noise)
        if kind == "lens":
            self._finish_lens_truth(truth, ivar)
        elif kind in ("fg_emission", "lone_line"):
            self._finish_feature_truth(truth, ivar)
        elif kind == "cosmic":
            flux += self._cosmic(rng, ivar, truth)
        elif kind == "sky_residual":
            flux += self._sky_residual(rng, sky.lines, ivar, truth)
        truth.pop("_lines", None)
        return Simulated(loglam, flux, ivar, and_mask, model, sky.total, wdisp, layout, z_fg, truth)

    # ----------------------------------------------------------------------------- features
    def _galaxy_lines(self, loglam, wdisp, z, relative, sigma_v, ivar0, target_snr):
        """A LineSet of the 12 lines at ``z`` scaled so their total SNR is ``target_snr`` (None if unseen)."""
        line_set = LineSet(loglam)
        sigma_px = np.zeros(len(LINE_KEYS))
        for k, rest in enumerate(REST_VACUUM_A):
            observed = rest * (1.0 + z)
            pixel = int(np.clip(round(line_set.center_px(observed)), 0, loglam.size - 1))
            sigma_px[k] = float(total_sigma_px(sigma_v, wdisp[pixel]))
            inside = EDGE_PX <= line_set.center_px(observed) <= loglam.size - 1 - EDGE_PX
            line_set.add(observed if inside else 1.0, sigma_px[k])  # 1 A: far off the spectrum, empty stamp
        unit = line_set.unit_snr(ivar0)
        norm = np.sqrt(np.sum((relative * unit) ** 2))
        if not norm > 0:
            return None
        fluxes = relative * target_snr / norm
        return line_set, fluxes, sigma_px

    def _lens(self, rng, loglam, wdisp, z_fg, ivar0, truth):
        oii_only = rng.random() < OII_ONLY_FRACTION
        sigma_v = log_uniform(rng, SIGMA_V_KMS)
        target = log_uniform(rng, LENS_TOTAL_SNR)
        lam_max = 10.0 ** loglam[-1 - EDGE_PX]
        for _ in range(100):
            if oii_only:
                z_hi = min(1.7, lam_max / REST_VACUUM_A[1] - 1.0)
                z_bg = rng.uniform(max(0.9, z_fg + 0.05), z_hi)
                relative, info = nebular.oii_only_fluxes(rng)
            else:
                z_bg = rng.uniform(z_fg + 0.05, min(z_fg + 1.0, 1.5))
                relative, info = nebular.draw_relative_fluxes(rng)
            made = self._galaxy_lines(loglam, wdisp, z_bg, relative, sigma_v, ivar0, target)
            if made is not None:
                break
        else:
            raise RuntimeError("no observable background line in 100 draws")
        line_set, fluxes, sigma_px = made
        truth.update(lens_type="oii_only" if oii_only else "galaxy", z_bg=float(z_bg), sigma_v_kms=sigma_v,
                     _lines=(line_set, fluxes, sigma_px), **{k: v for k, v in info.items()})
        return line_set.flux_density(fluxes)

    def _fg_emission(self, rng, loglam, wdisp, z_fg, ivar0, truth):
        sigma_v = log_uniform(rng, SIGMA_V_KMS)
        relative, _ = nebular.draw_relative_fluxes(rng)
        made = self._galaxy_lines(loglam, wdisp, z_fg, relative, sigma_v, ivar0,
                                  log_uniform(rng, FG_EMISSION_TOTAL_SNR))
        if made is None:
            return np.zeros(loglam.size)
        line_set, fluxes, _ = made
        truth.update(sigma_v_kms=sigma_v, _lines=(line_set, fluxes, None))
        return line_set.flux_density(fluxes)

    def _lone_line(self, rng, loglam, wdisp, ivar0, truth):
        sigma_v = log_uniform(rng, SIGMA_V_KMS)
        target = log_uniform(rng, LONE_LINE_SNR)
        for _ in range(100):
            pixel = rng.uniform(EDGE_PX, loglam.size - 1 - EDGE_PX)
            observed = 10.0 ** (loglam[0] + LOGLAM_STEP * pixel)
            line_set = LineSet(loglam)
            line_set.add(observed, float(total_sigma_px(sigma_v, wdisp[int(round(pixel))])))
            unit = line_set.unit_snr(ivar0)[0]
            if unit > 0:
                break
        fluxes = np.array([target / unit])
        truth.update(sigma_v_kms=sigma_v, detail=f"wavelength_a={observed:.2f}", _lines=(line_set, fluxes, None))
        return line_set.flux_density(fluxes)

    def _cosmic(self, rng, ivar, truth):
        added = np.zeros(ivar.size)
        good = np.flatnonzero(ivar > 0)
        good = good[(good >= EDGE_PX) & (good < ivar.size - EDGE_PX)]
        significance = []
        for _ in range(int(rng.integers(1, 4))):
            pixel = int(rng.choice(good))
            width = int(rng.integers(1, 3))
            for p in range(pixel, pixel + width):
                s = rng.uniform(5.0, 50.0)
                added[p] += s / np.sqrt(ivar[p]) if ivar[p] > 0 else 0.0
                significance.append(s)
        truth.update(snr_max=max(significance), snr_total=float(np.sqrt(np.sum(np.square(significance)))),
                     detail="spike_pixels=" + ";".join(str(p) for p in np.flatnonzero(added)))
        return added

    def _sky_residual(self, rng, sky_lines, ivar, truth):
        x = np.arange(sky_lines.size, dtype=np.float64)
        shift = rng.uniform(0.03, 0.25) * rng.choice([-1.0, 1.0])
        scale_error = rng.uniform(0.01, 0.05) * rng.choice([-1.0, 1.0])
        added = np.interp(x - shift, x, sky_lines) - sky_lines + scale_error * sky_lines
        significance = np.abs(added) * np.sqrt(ivar)
        truth.update(snr_max=float(significance.max()), snr_total=float(np.sqrt(np.sum(significance ** 2))),
                     detail=f"shift_px={shift:.3f};scale_error={scale_error:.3f}")
        return added

    # ----------------------------------------------------------------------------- truth
    @staticmethod
    def _finish_feature_truth(truth, ivar):
        lines = truth.get("_lines")
        if lines is None:
            truth.update(snr_max=0.0, snr_total=0.0)
            return
        line_set, fluxes, _ = lines
        snr = fluxes * line_set.unit_snr(ivar)
        truth.update(snr_max=float(snr.max()), snr_total=float(np.sqrt(np.sum(snr ** 2))))

    @staticmethod
    def _finish_lens_truth(truth, ivar):
        line_set, fluxes, sigma_px = truth["_lines"]
        snr = fluxes * line_set.unit_snr(ivar)
        strongest = int(np.argmax(snr))
        observable = snr > 0
        truth.update(snr_max=float(snr[strongest]), snr_total=float(np.sqrt(np.sum(snr ** 2))),
                     strongest_line=LINE_KEYS[strongest],
                     n_lines_snr4=int(np.sum(snr >= 4.0)),
                     cr_sigma_z=cramer_rao_sigma_z(snr, sigma_px, truth["z_bg"]),
                     cr_sigma_z_free_fluxes=shift_to_sigma_z(line_set.shift_information(np.where(observable, fluxes, 0.0),
                                                                                    ivar), truth["z_bg"]))
        for k, key in enumerate(LINE_KEYS):
            truth[f"flux_{key}"] = float(fluxes[k]) if observable[k] else 0.0
            truth[f"snr_{key}"] = float(snr[k])
            truth[f"sigma_px_{key}"] = float(sigma_px[k]) if observable[k] else 0.0
