#!/usr/bin/env bash
# Ship sequence for casiglo-cnn-v3 (run from the repository root after training, on any machine: export and
# evaluation use the TensorFlow backend and the CPU; training was `KERAS_BACKEND=jax casiglo-train fit --config
# training/configs/casiglo-cnn-v3.json --out runs/casiglo-cnn-v3` on a GPU).
set -euo pipefail
export PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0
PY=${PYTHON:-python}
$PY -m training.cli export --model runs/casiglo-cnn-v3 --out runs/casiglo-cnn-v3-raw.onnx --version casiglo-cnn-v3 --force
$PY -m training.cli evaluate --onnx runs/casiglo-cnn-v3-raw.onnx --out runs/eval-v3 --n ${N:-20000} --seed 20261124 \
    --calibrate --calibration-n ${NCAL:-4000} --calibration-seed 777
mkdir -p models
$PY -m training.cli export --model runs/casiglo-cnn-v3 --out models/casiglo-cnn-v3.onnx --version casiglo-cnn-v3 \
    --calibration runs/eval-v3/calibration.json --metrics runs/eval-v3/metrics.json --card models/casiglo-cnn-v3 --force
# The Keras model folder (weights + fit card) is the base `casiglo-train finetune` starts from.
mkdir -p models/casiglo-cnn-v3
cp runs/casiglo-cnn-v3/model.keras runs/casiglo-cnn-v3/card.json runs/casiglo-cnn-v3/history.json models/casiglo-cnn-v3/
for f in line_roc completeness_vs_snr dz_hist; do cp runs/eval-v3/$f.png models/casiglo-cnn-v3-$f.png; done
ls -la models
