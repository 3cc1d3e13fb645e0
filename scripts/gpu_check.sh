#!/usr/bin/env bash
# The GPU check (issue #15, item 5), for a machine with an NVIDIA GPU and this repository's
# environment already installed (it installs and downloads nothing):
#   bash scripts/gpu_check.sh            # or PY=/path/to/python bash scripts/gpu_check.sh
# 1. the tests that need CUDA (tests/models/test_cuda.py; they skip without a GPU);
# 2. random official-layout ffhq256 weights converted and timed per edit at T=20:
#    fp32 / fp16 / bf16 (+ torch.compile, + CUDA graphs), DDIM and DPM-Solver++(2M), with the
#    difference from fp32. Bounded: the whole run stays inside 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
export PYTHONPATH=.
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
  || echo "gpu_check: nvidia-smi not found"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
timeout 120 "$PY" -m pytest -q -p no:cacheprovider tests/models/test_cuda.py; tests=$?
timeout 360 "$PY" -m scripts.gpu_check --preset ffhq256 --steps 20 --budget-s 300; check=$?
echo "gpu_check: tests exit $tests, timings exit $check"
[ "$tests" -eq 0 ] && [ "$check" -eq 0 ]
