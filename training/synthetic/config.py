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
    real_clip_nsigma : float
        Threshold of the rolling-window outlier cleaning of real residuals (paper: 3).
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
    oii_only_fraction : float
        Share of lenses whose only lines are the [OII] doublet (the main channel of BELLS and SILO
        sources at z_bg ~ 1), with z_bg drawn uniformly in ``oii_only_z_bg_range`` (0: none, as v1-v3).
    oii_only_z_bg_range : tuple
        z_bg range of the [OII]-only sources (clipped to the grid and to ``min_offset_px`` behind z_fg).
    oii_ratio_range : tuple, optional
        Range of the flux ratio [OII] 3730 / 3727 drawn uniformly for every lens (None: the product's
        ``lines.OII_3730_TO_3727_RANGE``; the low-to-high-density limits are about 0.35-1.5).
    width_velocity_kms : tuple, optional
        When set, a galaxy's intrinsic line width is a velocity dispersion drawn log-uniform in this
        range (km/s), so sigma_A = sigma_v / c x lambda_obs differs from line to line; None: the fixed
        widths ``width_sigmas_a`` in Angstrom (the paper).
    balmer_case_b : bool
        With ``tied_ratios``: H-gamma and H-delta appear with H-beta at their case-B ratios (0.468, 0.259),
        reddened by the same dust as the H-alpha/H-beta decrement (Cardelli et al. 1989), so the series never
        brightens to the blue, and a weaker line of a tied group never shows without its visible stronger partner;
        False: H-gamma and H-delta are drawn independently (v1-v3), which breaks case B for many lenses.
    single_line_snr_boost : tuple
        A lone line's SNR is a label draw times U(low, high): (1, 3) makes strong isolated lines common
        under the faint Moyal labels (v1-v3); (1, 1) gives lone lines the lens lines' own distribution.
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
    real_clip_nsigma: float = 3.0
    keep_real_artifacts: bool = False
    real_z_fg_mode: str = "mixed"
    noise_scale_dex: float = 0.5
    lens_artifact_probability: float = 0.15
    min_offset_px: float = 5.0
    oii_only_fraction: float = 0.0
    oii_only_z_bg_range: tuple[float, float] = (0.5, 1.7)
    oii_ratio_range: tuple[float, float] | None = None
    width_velocity_kms: tuple[float, float] | None = None
    single_line_snr_boost: tuple[float, float] = (1.0, 3.0)
    balmer_case_b: bool = False

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
        if not 0.0 <= self.oii_only_fraction <= 1.0:
            raise ValueError("oii_only_fraction must be in [0, 1]")
        _check_range("oii_only_z_bg_range", self.oii_only_z_bg_range)
        _check_range("oii_ratio_range", self.oii_ratio_range)
        _check_range("width_velocity_kms", self.width_velocity_kms)
        _check_range("single_line_snr_boost", self.single_line_snr_boost, allow_equal=True)

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
                    "instrumental_sigma_px", "background_sources", "real_dirs", "oii_only_z_bg_range",
                    "oii_ratio_range", "width_velocity_kms", "single_line_snr_boost"):
            if clean.get(key) is not None:
                clean[key] = tuple(clean[key])
        return cls(**clean)


def _check_range(name: str, bounds, allow_equal: bool = False) -> None:
    """A (low, high) pair of positive numbers with low < high (or low <= high); None passes."""
    if bounds is None:
        return
    if len(bounds) != 2 or not 0 < bounds[0] <= bounds[1] or (bounds[0] == bounds[1] and not allow_equal):
        raise ValueError(f"{name} must be (low, high) with 0 < low {'<=' if allow_equal else '<'} high, got {bounds}")


def as_config(config: "SyntheticConfig | dict | None") -> "SyntheticConfig":
    """Accept a SyntheticConfig, a dict of its fields (e.g. a training config's "data" section) or None."""
    if config is None:
        return SyntheticConfig()
    if isinstance(config, SyntheticConfig):
        return config
    return SyntheticConfig.from_dict(dict(config))
