#!/usr/bin/env bash
# How casiglo-cnn-v3 was trained: on a lent GPU machine (one H100, 16 cores) that has JAX but no TensorFlow.
# Keras 3 runs training/ unchanged on JAX; the model folder it writes is exported to ONNX on a TensorFlow machine
# with training/configs/ship-casiglo-cnn-v3.sh.
# Needs: keras (and its small dependencies namex, optree) as wheels in ./.whl when the machine has no package index,
# and the real spec files of the "real" backgrounds in the folder named by CASIGLO_REAL_BACKGROUNDS.
set -euo pipefail
source "$(dirname "$0")/gpu-env.sh"
# 17 epochs x 400 batches of 128 (870,400 spectra) from 12 generating processes: 8.1 min on the H100.
python3 -m training.cli fit --config training/configs/casiglo-cnn-v3.json --out ${OUT_DIR:-runs/casiglo-cnn-v3}
