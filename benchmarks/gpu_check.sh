#!/usr/bin/env bash
# One prepared pass on a lent GPU machine (no package registry there): install the carried wheels,
# prove `--device cuda`, record the GPU hot-path table. Results land in $OUT (at most 8 files).
#
#   here:  pip wheel --no-deps -w .whl . ./plugins/refsuite-fastpath && pip download -d .whl/deps --only-binary=:all: \
#            --python-version 3.12 --platform manylinux_2_17_x86_64 tqdm matplotlib filelock packaging
#   there: OUT=/some/dir bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:?set OUT to a directory for the results}
REPO=$(pwd)
step() { echo "== $* ($(date +%T))"; }

step install
python -m pip install -q --no-index --find-links .whl/deps tqdm matplotlib filelock packaging 2>&1 | tail -3
python -m pip install -q --no-deps --force-reinstall .whl/refsuite-*.whl .whl/refsuite_fastpath-*.whl 2>&1 | tail -3
python -c "import sys, torch, triton; print(sys.version.split()[0], torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'triton', triton.__version__, torch.cuda.get_device_name())"

step diagnose
timeout 90 python "$REPO/benchmarks/gpu_diagnose.py" C > "$OUT/diag.txt" 2>&1; echo "diag rc=$?"

# Run from an empty directory: the installed distribution (entry points, pytest11) is what is tested.
cd "$(mktemp -d)"
step bench
timeout 200 refsuite bench --device cuda --json "$OUT/bench.json" -- -k "not compile" > "$OUT/bench.txt" 2>&1
echo "bench rc=$?"; grep -E "passed|failed" "$OUT/bench.txt" | tail -1

step run
timeout 90 refsuite run --device cuda > "$OUT/run.txt" 2>&1
echo "run rc=$?"; tail -3 "$OUT/run.txt"
timeout 20 refsuite run --device cuda:7 2>&1 | tail -1; echo "run --device cuda:7 rc=${PIPESTATUS[0]}"

step train
timeout 50 refsuite train --device cuda --fast --out "$(mktemp -d)" > "$OUT/train.txt" 2>&1
echo "train --fast rc=$?"

step bench-compile
timeout 100 refsuite bench --device cuda --json "$OUT/bench-compile.json" \
    -- -k "ceiling or (8192 and (both or net) and (compile or eager_nchw or fused))" > "$OUT/bench-compile.txt" 2>&1
echo "bench-compile rc=$?"
step done
