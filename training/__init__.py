"""Training package: synthetic spectra, the Keras CNN, evaluation, ONNX export, retraining from labels.

It builds on the same core as the app (``casiglo_gui.core``): one line list, one grid, one preprocessing.
"""
