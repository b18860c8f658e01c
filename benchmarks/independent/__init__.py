"""An evaluation set made independently of ``training/synthetic``: background-galaxy emission lines
injected into the FLUX of real SDSS/BOSS spectra, written back as spec-lite FITS files.

Modules: ``linelist`` (vacuum rest wavelengths from the MaNGA DAP line list, not from the product),
``nebular`` (star-forming line ratios, case-B Balmer decrement, CCM89 dust), ``inject`` (sampled
Gaussian profiles, the aperture SNR used by this set), ``build`` (base spectra, drawing, FITS + truth),
``metrics`` (lens completeness, per-line recall, false positives, redshift accuracy from two tables).

Nothing here imports ``training`` or the product's physics, synthetic profiles or preprocessing; only
``casiglo_gui.core.lines.LINE_KEYS`` (the 12 keys and their contract order) is shared.
"""
