"""The Qt-free core: lines, grid, spectra, readers, preprocessing, detection, labels, export.

Nothing under this package may import Qt or TensorFlow (a test enforces it).
"""
