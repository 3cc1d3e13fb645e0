#!/usr/bin/env bash
# How the bundled demo64 model is made, end to end (resumable: re-running continues the
# autoencoder run from its last checkpoint). On 2 CPU cores the autoencoder stage is the
# long one; MINUTES bounds it per invocation.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/demo64}
MINUTES=${MINUTES:-100}
PY=${PY:-.venv/bin/python}

$PY -m models.train autoencoder --run "$RUN" --preset demo64 --num-images 50000 \
    --minutes "$MINUTES" --bf16 --batch 32 --lr 2e-4 --ckpt-every 100 --threads 2
$PY -m models.train latent --run "$RUN" --num-images 20000 --steps 3000 --batch 256 --lr 1e-3
$PY -m models.train directions --run "$RUN" --num-train 8000 --num-test 2000
$PY -m models.train export --run "$RUN" --out models/weights/demo64
