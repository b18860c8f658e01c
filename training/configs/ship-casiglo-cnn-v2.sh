#!/usr/bin/env bash
# Ship sequence for casiglo-cnn-v2 (run from the repository root after training).
set -euo pipefail
export PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0
PY=${PYTHON:-python}
$PY -m training.cli export --model runs/casiglo-cnn-v2 --out runs/casiglo-cnn-v2-raw.onnx --version casiglo-cnn-v2 --force
$PY -m training.cli evaluate --onnx runs/casiglo-cnn-v2-raw.onnx --out runs/eval-v2 --n ${N:-20000} --seed 20261124 \
    --calibrate --calibration-n ${NCAL:-4000} --calibration-seed 777
mkdir -p models
$PY -m training.cli export --model runs/casiglo-cnn-v2 --out models/casiglo-cnn-v2.onnx --version casiglo-cnn-v2 \
    --calibration runs/eval-v2/calibration.json --metrics runs/eval-v2/metrics.json --card models/casiglo-cnn-v2 --force
# The Keras model folder (weights + fit card) is the base `casiglo-train finetune` starts from.
mkdir -p models/casiglo-cnn-v2
cp runs/casiglo-cnn-v2/model.keras runs/casiglo-cnn-v2/card.json runs/casiglo-cnn-v2/history.json models/casiglo-cnn-v2/
for f in line_roc completeness_vs_snr dz_hist; do cp runs/eval-v2/$f.png models/casiglo-cnn-v2-$f.png; done
ls -la models
