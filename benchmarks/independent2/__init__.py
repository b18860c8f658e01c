"""A second independent test set: synthetic SDSS/BOSS spec-lite files made from scratch.

Shares no code with ``training/synthetic`` nor ``benchmarks/independent``: its own foreground (SDSS
galaxy eigenspectra with random coefficients and a mismatched pipeline model), its own sky (the
idlspec2d sky-line list, converted to vacuum, over a sky continuum) and noise (variance proportional to
sky + object over a throughput curve, a per-spectrum scale, flagged bad pixels), its own line recipe
(pixel-integrated Gaussians, priors on the line ratios) and its own truth (matched-filter SNR per line,
the Cramer-Rao bound on z_bg). See docs/independent_eval.md, "A second independent set".
"""
