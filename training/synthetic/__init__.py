"""Synthetic lens spectra for training and testing (the CASIGLO paper's recipe, vectorised; no TensorFlow).

>>> from training.synthetic import generate, SyntheticConfig
>>> batch = generate(1000, seed=1)            # batch.x is the CNN input, batch.line_present the labels
"""
from .backgrounds import (BackgroundSource, FlatBackground, ParametricBackground, PCABackground, RealResidualBackground,
                          default_real_paths, rolling_sigma_clip)
from .config import BACKGROUND_KINDS, KIND_CODE, KINDS, SyntheticConfig
from .generator import CHUNK_SIZE, SyntheticBatch, generate, generate_chunk, inject_line_sets, stream
from .parallel import generate_parallel, iter_chunks_parallel, stream_parallel

__all__ = [
    "BACKGROUND_KINDS", "CHUNK_SIZE", "KINDS", "KIND_CODE", "BackgroundSource", "FlatBackground", "PCABackground",
    "ParametricBackground", "RealResidualBackground", "SyntheticBatch", "SyntheticConfig",
    "default_real_paths", "generate", "generate_chunk", "generate_parallel", "inject_line_sets",
    "iter_chunks_parallel", "rolling_sigma_clip", "stream",
]
