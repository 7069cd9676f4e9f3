#!/usr/bin/env bash
# One GPU session in one command: throughput, kernel counts and the GPU-sensitive tests.
#
#   bash benchmarks/gpu_check.sh OUT_DIR [WHEEL_DIR]
#
# WHEEL_DIR holds wheels to install first (pinfer's own, and any dependency the
# machine lacks); the benchmarks and tests then run from a copy outside the checkout,
# so that the installed pinfer (with pinfer.models and pinfer.envs) is the one
# imported. Without WHEEL_DIR pinfer must already be installed (editable is fine).
# GPU_CHECK_QUICK=1 runs tiny benchmark sizes (a smoke test). Writes into OUT_DIR:
#   gpu_benchmarks.json   python -m benchmarks.gpu --report FILE renders it
#   gpu_kernels.json      python -m benchmarks.gpu_kernels --report FILE renders it
#   gpu.log, kernels.log, tests.log, nvidia_smi.txt
# Each stage has its own time limit so a slow one cannot eat the others' results;
# on an H200 the three took about 50 s, 30 s and 170 s. The tests are the suite's
# kernel tests (packaging, CLI, sharding and anchor tests need the CPU machine).
set -u
python=${PYTHON:-python3}
out=${1:?usage: gpu_check.sh OUT_DIR [WHEEL_DIR]}
wheels=${2:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
quick=${GPU_CHECK_QUICK:+--quick}
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
if [ -n "$wheels" ]; then
    $python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/pinfer-site "$wheels"/*.whl || exit 1
    export PYTHONPATH=/tmp/pinfer-site
    work=$(mktemp -d)
    cp -r benchmarks tests experiments pyproject.toml README.md "$work"/ || exit 1
    cd "$work" || exit 1
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,memory.total \
    --format=csv >"$out/nvidia_smi.txt" 2>&1
$python -c "import jax, pinfer; print(jax.__version__, jax.devices())" || exit 1

start=$SECONDS
timeout 300 $python -m benchmarks.gpu --out "$out" $quick >"$out/gpu.log" 2>&1
echo "benchmarks.gpu: rc $? in $((SECONDS - start)) s"

start=$SECONDS
timeout 120 $python -m benchmarks.gpu_kernels --out "$out/gpu_kernels.json" \
    >"$out/kernels.log" 2>&1
echo "benchmarks.gpu_kernels: rc $? in $((SECONDS - start)) s"

start=$SECONDS
timeout 340 $python -m pytest -q -p no:cacheprovider -p no:benchmark -n 8 \
    --durations=12 tests/smc tests/diagnostics tests/models tests/agents tests/envs \
    tests/inverse tests/planning tests/test_linalg.py tests/test_rng_quality.py \
    tests/test_base.py >"$out/tests.log" 2>&1
echo "tests: rc $? in $((SECONDS - start)) s"
tail -n 3 "$out/tests.log"
grep -h '"name"' "$out/gpu.log" | cut -c1-160
