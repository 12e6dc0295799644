#!/usr/bin/env bash
# One prepared pass on a lent GPU machine (no package registry there): install the carried wheels,
# prove `--device cuda`, record the GPU hot-path table. Results land in $OUT.
#
#   here:  pip wheel --no-deps -w .whl . && pip download -d .whl/deps --only-binary=:all: \
#            --python-version 3.12 --platform manylinux_2_17_x86_64 tqdm matplotlib filelock packaging
#   there: OUT=/some/dir bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:?set OUT to a directory for the results}
REPO=$(pwd)
log() { echo "== $* ($(date +%T))" | tee -a "$OUT/steps.txt"; }

log install
python -m pip install -q --no-index --find-links .whl/deps tqdm matplotlib filelock packaging 2>&1 | tail -3
python -m pip install -q --no-deps --force-reinstall .whl/refsuite-*.whl 2>&1 | tail -3
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia-smi.txt" 2>&1
python -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), torch.cuda.get_device_name())" | tee "$OUT/versions.txt"

# Run from an empty directory: the installed distribution (entry points, pytest11) is what is tested.
work=$(mktemp -d) && cd "$work"
log doctor
refsuite doctor > "$OUT/doctor.txt" 2>&1; echo "doctor rc=$?" | tee -a "$OUT/steps.txt"

log bench
timeout 220 refsuite bench --device cuda --json "$OUT/bench.json" -- -k "not compile" > "$OUT/bench.txt" 2>&1
echo "bench rc=$?" | tee -a "$OUT/steps.txt"

log run
timeout 120 refsuite run --device cuda --device cpu --record "$OUT/run.json" > "$OUT/run.txt" 2>&1
echo "run rc=$?" | tee -a "$OUT/steps.txt"
timeout 20 refsuite run --device cuda:7 > "$OUT/run-missing-device.txt" 2>&1
echo "run --device cuda:7 rc=$?" | tee -a "$OUT/steps.txt"

log train
timeout 60 refsuite train --device cuda --fast --out "$OUT/train-fast" > "$OUT/train-fast.txt" 2>&1
echo "train --fast rc=$?" | tee -a "$OUT/steps.txt"

log bench-compile
timeout 150 refsuite bench --device cuda --json "$OUT/bench-compile.json" \
    -- -k "ceiling or (8192 and (both or net) and (compile or eager_nchw or cl_cuda_graph))" > "$OUT/bench-compile.txt" 2>&1
echo "bench-compile rc=$?" | tee -a "$OUT/steps.txt"
log done
