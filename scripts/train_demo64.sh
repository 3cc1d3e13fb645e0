#!/usr/bin/env bash
# How the bundled demo64 model is made, end to end. Every stage is resumable: re-running the
# script continues each autoencoder run from its last checkpoint and skips finished ones.
# On 2 CPU cores the autoencoder stages are the long ones; MINUTES bounds each per invocation.
#
# Stage 1 is the paper's objective (plain ε-MSE, one learning rate) from scratch. After 1,900
# steps it reconstructs well from an inverted x_T but its decoder ignores z_sem (the one-step
# probe in models/evaluation/diagnostics.py gains 1-2 %), so edits do not show. Stage 2 fine-tunes it with
# a 10× learning rate on the semantic path (encoder + z_sem projections) and the ε-MSE weighted
# by clamp(1/SNR, 1, W), which makes the decoder use z_sem (models/training/autoencoder.py, `parameter_groups`,
# `loss_weights`): W = 50 for the first 2,100 steps, then W = 300 (more weight on the
# high-noise steps, where an edit of z_sem has to take hold). Stage 3 fine-tunes stage 2 to
# predict v = √ᾱ ε − √(1−ᾱ) x_0 (plain v-MSE, `--prediction v`): an ε-network cannot say much
# about x_0 at high noise, where ε ≈ x_t, so even stage 2 decoded a random x_T to the wrong
# colours and its edits could not change the layout (models/weights/demo64/README.md).
# Stage 4 continues stage 3 unchanged on revision 3 of the face renderer, which draws age with
# broad shaded shapes and no longer lightens old hair (docs/facegen/README.md, "Salience"): with
# 1-px wrinkles, the Young slider of stage 3 mostly moved hair colour.
#
# The shipped stages ran on the renderer revision of their day (stages 1-2: revision 1, stage 3:
# revision 2, stage 4: revision 3; the face cache is keyed by the renderer's source). Re-running this
# script from scratch trains every stage on the current renderer: the same recipe, not the same weights.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/demo64}
MINUTES=${MINUTES:-100}
STAGE1_STEPS=${STAGE1_STEPS:-1900}
STAGE2A_STEPS=${STAGE2A_STEPS:-2100}
STAGE2_STEPS=${STAGE2_STEPS:-4381}
STAGE3_STEPS=${STAGE3_STEPS:-6100}
STAGE4_STEPS=${STAGE4_STEPS:-5457}
OUT=${OUT:-models/weights/demo64}
PY=${PY:-.venv/bin/python}
COMMON=(--num-images 50000 --bf16 --batch 32 --lr 2e-4 --ckpt-every 100 --threads 2)

finished() {  # finished RUN_DIR STEPS: has that autoencoder run reached STEPS?
    local reached
    reached=$($PY -c "import sys, torch; print(torch.load(sys.argv[1], weights_only=False)['step'])" \
        "$1/autoencoder.pt")
    if (( reached < $2 )); then
        echo "$1: step $reached of $2; run this script again to continue" >&2
        return 1
    fi
}

$PY -m models.training autoencoder --run "$RUN/stage1" --preset demo64 --steps "$STAGE1_STEPS" \
    --minutes "$MINUTES" "${COMMON[@]}"
finished "$RUN/stage1" "$STAGE1_STEPS" || exit 0
$PY -m models.training export --run "$RUN/stage1" --out "$RUN/stage1_model"
STAGE2=(--run "$RUN/stage2" --init "$RUN/stage1_model" --semantic-lr-mult 10 --warmup 50)
$PY -m models.training autoencoder "${STAGE2[@]}" --steps "$STAGE2A_STEPS" --x0-weight-max 50 \
    --minutes "$MINUTES" "${COMMON[@]}"
finished "$RUN/stage2" "$STAGE2A_STEPS" || exit 0
$PY -m models.training autoencoder "${STAGE2[@]}" --steps "$STAGE2_STEPS" --x0-weight-max 300 \
    --minutes "$MINUTES" "${COMMON[@]}"
finished "$RUN/stage2" "$STAGE2_STEPS" || exit 0
$PY -m models.training export --run "$RUN/stage2" --out "$RUN/stage2_model"
$PY -m models.training autoencoder --run "$RUN/stage3" --init "$RUN/stage2_model" --prediction v \
    --semantic-lr-mult 10 --warmup 100 --steps "$STAGE3_STEPS" --minutes "$MINUTES" "${COMMON[@]}"
finished "$RUN/stage3" "$STAGE3_STEPS" || exit 0
$PY -m models.training export --run "$RUN/stage3" --out "$RUN/stage3_model"
$PY -m models.training autoencoder --run "$RUN/stage4" --init "$RUN/stage3_model" \
    --semantic-lr-mult 10 --warmup 100 --steps "$STAGE4_STEPS" --minutes "$MINUTES" "${COMMON[@]}"
finished "$RUN/stage4" "$STAGE4_STEPS" || exit 0
$PY -m models.training latent --run "$RUN/stage4" --num-images 20000 --steps 3000 --batch 256 --lr 1e-3
$PY -m models.training directions --run "$RUN/stage4" --num-train 8000 --num-test 2000
# encode_steps 50: the app inverts each face once with 50 steps and renders edits with 20
# (SSIM of that round trip 0.95 against 0.87 for 20/20, models/weights/demo64/README.md).
$PY -m models.training export --run "$RUN/stage4" --out "$OUT" --encode-steps 50
