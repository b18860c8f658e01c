"""Batch scoring of many spectra into a ranked candidate table (``casiglo scan``).

Modules: ``inputs`` (files/folders/globs -> ordered files), ``chunk`` (the per-chunk work every engine
runs), ``engines`` (in-process, process pool, Dask), ``table`` (resumable CSV/Parquet writer),
``columns`` (the contract's columns), ``summary``, ``pipeline`` (``run_scan``).
"""
from .columns import COLUMNS  # noqa: F401
from ..detectors.spec import DetectorSpec, resolve_spec  # noqa: F401
from .inputs import expand_inputs  # noqa: F401
from .pipeline import run_scan  # noqa: F401
