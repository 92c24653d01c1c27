#!/usr/bin/env bash
# Compare the mutation strategies of `nasc evolve`: every strategy × SEEDS seeds × TRIALS
# candidates from one seed model, then `nasc compare` prints hypervolume mean ± std per
# strategy (validation accuracy vs params relative to the seed's, capped at 2×), the best front
# member's test accuracy, a Mann–Whitney U test per pair, and draws every front into
# OUT_DIR/fronts.svg. Runs are resumable: rerunning the script continues unfinished stores.
#
#   scripts/compare_strategies.sh [OUT_DIR]
#
# Defaults: the official Fashion-MNIST (`--data fashion`; scripts/install_data.sh installs it),
# examples/resnet_fashion.nas, 5 seeds × 100 candidates, a seeded stratified subset of 1,200
# training images, the default 5,000-image validation split, 2 epochs with an early-stopping
# rung after epoch 1. FINAL_EPOCHS (default 0: no full-fidelity finish) sets --final-epochs.
# The digits comparison of earlier READMEs:
#   DATA=digits MODEL=examples/cnn_digits.nas TRIALS=30 EPOCHS=1 SUBSET= RUNGS= scripts/compare_strategies.sh
# (NASC=path/to/nasc chooses the binary; JOBS, THREADS, STRATEGIES, MARGIN likewise.)
# GUIDANCE=ops|skip|both runs the strategies with `--guidance` (stores named STRATEGY-gGUIDANCE-SEED).
# INHERIT=1 adds `--inherit` (children start from their parents' trained weights).
set -euo pipefail
OUT=${1:-compare-runs}
NASC=${NASC:-target/release/nasc}
SEEDS=${SEEDS:-"1 2 3 4 5"}
TRIALS=${TRIALS:-100}
EPOCHS=${EPOCHS:-2}
SUBSET=${SUBSET-1200}
RUNGS=${RUNGS-1}
MARGIN=${MARGIN:-0.02}
JOBS=${JOBS:-2}
THREADS=${THREADS:-1}
MODEL=${MODEL:-examples/resnet_fashion.nas}
STRATEGIES=${STRATEGIES:-"alpha random-subgraph primer automl-zero"}
GUIDANCE=${GUIDANCE:-}
mkdir -p "$OUT"
if [ -z "${DATA:-}" ]; then
  scripts/install_data.sh
  DATA=fashion
fi
extra=(--final-epochs "${FINAL_EPOCHS:-0}")
[ -n "$SUBSET" ] && extra+=(--train-subset "$SUBSET")
[ -n "$RUNGS" ] && extra+=(--rungs "$RUNGS" --stop-margin "$MARGIN")
[ -n "$GUIDANCE" ] && extra+=(--guidance "$GUIDANCE")
[ -n "${INHERIT:-}" ] && extra+=(--inherit)
stores=()
# Seed-major, so that a comparison cut short still has every strategy.
for seed in $SEEDS; do
  for s in $STRATEGIES; do
    store="$OUT/$s${GUIDANCE:+-g$GUIDANCE}-$seed.sqlite"
    if [ -e "$store" ]; then
      "$NASC" evolve --resume "$store" --quiet --jobs "$JOBS" >/dev/null
    else
      "$NASC" evolve "$MODEL" --data "$DATA" --trials "$TRIALS" --epochs "$EPOCHS" "${extra[@]}" \
        --seed "$seed" --strategy "$s" --jobs "$JOBS" --threads "$THREADS" --quiet --store "$store" >/dev/null
    fi
    echo "$(date +%T) $s seed $seed done" >&2
    stores+=("$store")
  done
done
"$NASC" compare "${stores[@]}" --svg "$OUT/fronts.svg" | tee "$OUT/comparison.txt"
"$NASC" compare "${stores[@]}" --json > "$OUT/comparison.json"
