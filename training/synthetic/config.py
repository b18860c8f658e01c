"""What a synthetic batch contains: the kinds of spectra, their proportions and the label distributions."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

KINDS: tuple[str, ...] = (
    "lens", "empty", "fg_emission", "single_line", "sky_residual", "cosmic_ray", "fg_mismatch",
)
KIND_CODE: dict[str, int] = {name: i for i, name in enumerate(KINDS)}

SNR_DISTRIBUTIONS = ("moyal", "wide")
Z_RATIO_MODES = ("bells", "manga", "mixed")
BACKGROUND_KINDS = ("parametric", "real", "pca", "flat")
REAL_Z_FG_MODES = ("random", "file", "mixed")


def _default_proportions() -> dict[str, float]:
    return {"lens": 0.5, "empty": 0.15, "fg_emission": 0.1, "single_line": 0.1,
            "sky_residual": 0.05, "cosmic_ray": 0.05, "fg_mismatch": 0.05}


@dataclass
class SyntheticConfig:
    """Recipe of a synthetic data set (the CASIGLO paper, section II.B, plus hard negatives).

    Attributes
    ----------
    proportions : dict
        Relative frequency of each kind in ``KINDS`` (normalised; missing kinds get 0).
    snr_distribution : str
        ``"moyal"`` (the paper: Moyal(mu=snr_mu, sigma=snr_sigma)) or ``"wide"`` (log-uniform in
        [snr_min, snr_wide_max]), both truncated to [snr_min, snr_max].
    z_ratio_mode : str
        z_bg / z_fg distribution: ``"bells"`` (normal around 2), ``"manga"`` (uniform 2-10) or
        ``"mixed"`` (half of each).
    z_fg_range : tuple
        Foreground redshifts drawn uniformly here for backgrounds without their own z_fg.
    tied_ratios : bool
        Physically tied line pairs ([OIII], [NII], Balmer decrement, [OII] doublet) appear together with
        fixed or bounded flux ratios; otherwise every line's SNR is drawn independently.
    line_probability : float
        Chance that each of the 12 lines is in a lens's random subset (0.5: all 2^12 subsets equally likely).
    min_lens_lines : int
        A lens shows at least this many lines on good pixels (one line alone is the single_line negative).
    width_sigmas_a, width_probabilities : tuple
        Intrinsic Gaussian sigma (Angstrom) of the lines and how often each occurs (paper: 0.4/1.7, 6/7, 1/7).
    instrumental_sigma_px : tuple
        Range of the instrumental (line-spread) Gaussian sigma in pixels, drawn per spectrum.
    background_weights : dict
        How often each background source is used when several are given (keys: ``BACKGROUND_KINDS``).
    background_sources : tuple of str
        Sources built when ``generate``/``stream`` get no ``backgrounds`` argument: any of "parametric",
        "real", "pca" (the PCA is fitted on the real residuals unless ``pca_model`` names a saved one).
    real_dirs : tuple of str, optional
        Folders/files of real spec files for "real"/"pca" (default: ``backgrounds.default_real_paths()``).
    pca_model : str, optional
        A saved :class:`PCABackground` (.npz) for "pca".
    keep_real_artifacts : bool
        Keep the sky residuals and cosmic rays of real backgrounds (hard negatives) instead of replacing
        pixels beyond 3 sigma in a rolling 200 A window.
    real_z_fg_mode : str
        z_fg given to a real residual: ``"random"`` (drawn from ``z_fg_range``), ``"file"`` (its own
        redshift, where its foreground-model residuals really are) or ``"mixed"`` (half of each).
    noise_scale_dex : float
        Real residuals are rescaled by 10**U(-s, s) (flux and noise together; SNRs unchanged).
    lens_artifact_probability : float
        Chance that a lens also carries a cosmic ray or sky residual, so that artifacts alone never
        decide "not a lens".
    min_offset_px : float
        Minimum separation (pixels) between a lens's lines at z_bg and where they would be at z_fg.
    """

    proportions: dict[str, float] = field(default_factory=_default_proportions)
    snr_distribution: str = "moyal"
    snr_mu: float = 4.0
    snr_sigma: float = 1.5
    snr_min: float = 1.0
    snr_max: float = 50.0
    snr_wide_max: float = 30.0
    z_ratio_mode: str = "mixed"
    bells_ratio_mean: float = 2.0
    bells_ratio_sd: float = 0.4
    manga_ratio_range: tuple[float, float] = (2.0, 10.0)
    z_fg_range: tuple[float, float] = (0.004, 0.6)
    tied_ratios: bool = True
    line_probability: float = 0.5
    min_lens_lines: int = 2
    width_sigmas_a: tuple[float, ...] = (0.4, 1.7)
    width_probabilities: tuple[float, ...] = (6 / 7, 1 / 7)
    instrumental_sigma_px: tuple[float, float] = (1.0, 1.3)
    background_weights: dict[str, float] = field(
        default_factory=lambda: {"parametric": 1.0, "real": 1.0, "pca": 1.0})
    background_sources: tuple[str, ...] = ("parametric",)
    real_dirs: tuple[str, ...] | None = None
    pca_model: str | None = None
    keep_real_artifacts: bool = False
    real_z_fg_mode: str = "mixed"
    noise_scale_dex: float = 0.5
    lens_artifact_probability: float = 0.15
    min_offset_px: float = 5.0

    def __post_init__(self) -> None:
        unknown = set(self.proportions) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kind(s) in proportions: {sorted(unknown)}; known: {KINDS}")
        if sum(max(v, 0.0) for v in self.proportions.values()) <= 0:
            raise ValueError("proportions must have a positive total")
        if self.snr_distribution not in SNR_DISTRIBUTIONS:
            raise ValueError(f"snr_distribution must be one of {SNR_DISTRIBUTIONS}")
        if self.z_ratio_mode not in Z_RATIO_MODES:
            raise ValueError(f"z_ratio_mode must be one of {Z_RATIO_MODES}")
        if self.real_z_fg_mode not in REAL_Z_FG_MODES:
            raise ValueError(f"real_z_fg_mode must be one of {REAL_Z_FG_MODES}")
        if len(self.width_sigmas_a) != len(self.width_probabilities):
            raise ValueError("width_sigmas_a and width_probabilities differ in length")
        unknown = (set(self.background_weights) | set(self.background_sources)) - set(BACKGROUND_KINDS)
        if unknown:
            raise ValueError(f"unknown background kind(s): {sorted(unknown)}; known: {BACKGROUND_KINDS}")
        if not 0 < self.z_fg_range[0] < self.z_fg_range[1]:
            raise ValueError("z_fg_range must be 0 < low < high")

    def kind_probabilities(self) -> list[float]:
        weights = [max(float(self.proportions.get(k, 0.0)), 0.0) for k in KINDS]
        total = sum(weights)
        return [w / total for w in weights]

    def to_dict(self) -> dict:
        """JSON-ready description (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SyntheticConfig":
        """Build from a JSON-style dict; unknown keys are an error (a typo must not pass silently)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown synthetic config key(s) {sorted(unknown)}; known: {sorted(known)}")
        clean = dict(data)
        for key in ("manga_ratio_range", "z_fg_range", "width_sigmas_a", "width_probabilities",
                    "instrumental_sigma_px", "background_sources", "real_dirs"):
            if clean.get(key) is not None:
                clean[key] = tuple(clean[key])
        return cls(**clean)


def as_config(config: "SyntheticConfig | dict | None") -> "SyntheticConfig":
    """Accept a SyntheticConfig, a dict of its fields (e.g. a training config's "data" section) or None."""
    if config is None:
        return SyntheticConfig()
    if isinstance(config, SyntheticConfig):
        return config
    return SyntheticConfig.from_dict(dict(config))
