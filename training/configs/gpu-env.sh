# Sourced by fit-casiglo-cnn-*-on-gpu.sh: the environment of a lent GPU machine that has JAX but no TensorFlow.
# Keras (and its small dependencies namex, optree) come from wheels in ./.whl when the machine has no package
# index; the real spec files of the "real" backgrounds from the folder named by CASIGLO_REAL_BACKGROUNDS.
if ! python3 -c "import keras" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}. KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export CASIGLO_REAL_BACKGROUNDS=${CASIGLO_REAL_BACKGROUNDS:-$PWD/.realdata}
