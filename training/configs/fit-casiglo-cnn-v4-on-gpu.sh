#!/usr/bin/env bash
# Full training of casiglo-cnn-v4 on a lent GPU machine (one H100/H200, 16 cores) that has JAX but no TensorFlow,
# as casiglo-cnn-v3 was (fit-casiglo-cnn-v3-on-gpu.sh). Keras 3 runs training/ unchanged on JAX; the model folder
# it writes is exported to ONNX and compared with v3 on a TensorFlow machine (docs/training.md, "casiglo-cnn-v4").
# Needs: keras (and its small dependencies namex, optree) as wheels in ./.whl when the machine has no package index,
# and the real spec files of the "real" backgrounds in the folder named by CASIGLO_REAL_BACKGROUNDS.
set -euo pipefail
source "$(dirname "$0")/gpu-env.sh"
# 24 epochs x 400 batches of 128 (1,228,800 spectra) from 12 generating processes, from scratch; ~12 min if the
# widened recipe generates as fast as v3's (8.1 min for 17 epochs on an H100). MAX_MINUTES caps a shorter lease.
python3 -m training.cli fit --config training/configs/casiglo-cnn-v4-full.json --out ${OUT_DIR:-runs/casiglo-cnn-v4} \
    ${MAX_MINUTES:+--max-minutes $MAX_MINUTES}
