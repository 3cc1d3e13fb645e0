#!/usr/bin/env bash
# How the bundled photoreal faces64 model is made, end to end (models/weights/faces64/README.md).
# Every stage is resumable: re-running the script renders only missing face shards, continues the
# autoencoder from its last checkpoint, and redoes the cheap stages (labels resume by shard).
#
# Data: 20,000 MobileStyleGAN faces (models/facegen/photo.py, seeds 0-19,999, psi 0.8, bf16) at 64 px.
# Autoencoder: demo64's network and weights as the starting point (the same 64-px architecture,
# sized for a sub-second CPU edit; its encoder and decoder already read an aligned face), then
# fine-tuned on the photoreal faces with demo64's final recipe: v-prediction, bf16 autocast,
# batch 32, lr 2e-4 with 10x on the semantic path, EMA 0.999.
# Labels (models/facegen/labels.py): automatic on the first 5,000 faces for Young, Male, Smiling, Eyeglasses;
# by eye (models/facegen/label_data/photofaces_by_eye.csv, 300 faces) for everything, hair colours included.
#
# The shipped weights came from two sessions (CPU time runs out in one): INIT=models/weights/demo64
# (the default) with MINUTES=44, exported; then a second run, RUN=runs/faces64b
# INIT=models/weights/faces64 WARMUP=50 MINUTES=45, continuing from that export (the optimizer
# state starts afresh), and a third the same way (RUN=runs/faces64c MINUTES=30). The model card
# records the steps of each.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/faces64}
N=${N:-20000}
MINUTES=${MINUTES:-100}
STEPS=${STEPS:-20000}
OUT=${OUT:-models/weights/faces64}
INIT=${INIT:-models/weights/demo64}
WARMUP=${WARMUP:-100}
PY=${PY:-.venv/bin/python}
export PYTHONPATH=.

$PY -m models.facegen.photo generate --n "$N"
$PY -m models.training autoencoder --run "$RUN" --data photofaces --num-images "$N" \
    --init "$INIT" --name faces64 --semantic-lr-mult 10 --warmup "$WARMUP" \
    --steps "$STEPS" --minutes "$MINUTES" --bf16 --batch 32 --lr 2e-4 --ckpt-every 100 --threads 2
$PY -m models.training latent --run "$RUN" --data photofaces --num-images "$N" --steps 3000 --batch 256 --lr 1e-3
# Automatic labels on the first 5,000 faces: plenty for a linear probe of a 128-D z_sem (the paper
# fits its classifiers on 100 faces), at ~0.1 s a face.
$PY -m models.facegen.labels label --n 5000 --out runs/labels/photofaces_auto.csv
$PY -m models.facegen.labels merge --auto runs/labels/photofaces_auto.csv --out runs/labels/photofaces_train.csv
$PY -m models.training directions --run "$RUN" --data photofaces --labels runs/labels/photofaces_train.csv
$PY -m models.training export --run "$RUN" --out "$OUT" --encode-steps 50
