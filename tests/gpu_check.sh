#!/usr/bin/env bash
# The GPU checks behind the README's "GPU" section, on a machine with a CUDA device:
#
#     bash tests/gpu_check.sh OUTDIR [PART ...]
#
# PARTs (all, in this order, when none is named):
#   tests    the GPU tests (pytest -m gpu: the sandbox with the GPU bound in, every correct
#            style and every loop on every GPU speed check, the speed tricks on a GPU)
#   bench    attention-grade bench at the GPT-2 size: float32, tf32 and bfloat16
#   grading  the full grading of the solutions, GPU checks included, timed
#   study    the GPU speed checks RUNS times per submission (ratio distributions)
#   shares   the reference raced against PyTorch's kernels (the GPU baseline shares)
#   limits   the memory-limit tests on this machine's cgroups
# Each part writes its log to OUTDIR and has its own time limit; a part that fails does not
# stop the next. The machine needs the kit's dependencies; bubblewrap is used where it starts.
# RUNS (default 5) sets the study's runs; TESTS_SELECT and LIMITS_SELECT, a pytest -k
# expression for the tests and limits parts.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash tests/gpu_check.sh OUTDIR [PART ...]}
shift
mkdir -p "$out"
parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(tests bench grading study shares limits)
py=${PYTHON:-python3}
runs=${RUNS:-5}
export PYTHONUNBUFFERED=1
start=$SECONDS
step() { printf '\n=== %s (%ds)\n' "$*" "$((SECONDS - start))"; }
grade() { "$py" -m grader "$@"; }

step "environment"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 |
    tee "$out/nvidia-smi.csv"
"$py" -c "from grader import environment; print(environment.one_line())"
"$py" -c "from grader.worker import sandbox; print('bubblewrap:', sandbox.bubblewrap_problem() or 'starts')"

for part in "${parts[@]}"; do
    case $part in
    tests)
        step "GPU tests"
        timeout 420 "$py" -m pytest -p no:cacheprovider -m gpu -v -rs --durations=0 \
            ${TESTS_SELECT:+-k "$TESTS_SELECT"} --junitxml "$out/gpu-tests.xml" \
            tests/test_gpu.py 2>&1 | tee "$out/gpu-tests.log"
        ;;
    bench)
        step "bench"
        timeout 240 "$py" -m grader bench solutions --dtype float32 tf32 bfloat16 \
            --json "$out/bench.json" 2>&1 | tee "$out/bench.log"
        ;;
    grading)
        step "the solutions' full grading (hidden checks, every speed check)"
        begin=$SECONDS
        timeout 300 "$py" -m grader solutions -q --json "$out/grading.json" >"$out/grading.log" 2>&1
        echo "exit $?, $((SECONDS - begin)) s" | tee -a "$out/grading.log"
        tail -n 12 "$out/grading.log"
        ;;
    study)
        step "study: the GPU speed checks, $runs runs each"
        timeout 420 "$py" tests/speed_study.py --device cuda --runs "$runs" 2>&1 |
            tee "$out/study.log"
        ;;
    shares)
        step "shares: the reference against PyTorch's kernels"
        timeout 240 "$py" tests/speed_study.py --device cuda --learner --only reference \
            --runs 3 2>&1 | tee "$out/shares.log"
        ;;
    limits)
        step "memory limits on this machine's cgroups"
        stat -fc %T /sys/fs/cgroup | sed 's/^/cgroup filesystem: /'
        timeout 240 "$py" -m pytest -p no:cacheprovider -q -rs -n 4 \
            ${LIMITS_SELECT:+-k "$LIMITS_SELECT"} tests/test_limits.py 2>&1 | tee "$out/limits.log"
        ;;
    *) echo "unknown part: $part" >&2 ;;
    esac
done
step "done"
