#!/usr/bin/env bash
# Early stopping on and off, same seeds: alpha on the digits with the cnn_digits seed, TRIALS
# candidates × EPOCHS epochs, with and without `--rungs RUNGS`; then `nasc compare` (hypervolume,
# best member's test accuracy, trainings and epochs per group, Mann–Whitney U).
#
#   scripts/early_stop_ablation.sh [OUT_DIR]      (NASC, SEEDS, TRIALS, EPOCHS, RUNGS, MARGIN)
set -euo pipefail
OUT=${1:-early-stop-runs}
NASC=${NASC:-target/release/nasc}
SEEDS=${SEEDS:-"1 2 3 4 5"}
TRIALS=${TRIALS:-60}
EPOCHS=${EPOCHS:-6}
RUNGS=${RUNGS:-1,3}
MARGIN=${MARGIN:-0.02}
mkdir -p "$OUT"
stores=()
for seed in $SEEDS; do
  for mode in full rungs; do
    store="$OUT/$mode-$seed.sqlite"
    extra=()
    [ "$mode" = rungs ] && extra=(--rungs "$RUNGS" --stop-margin "$MARGIN")
    if [ -e "$store" ]; then
      "$NASC" evolve --resume "$store" --quiet --jobs 1 >/dev/null
    else
      "$NASC" evolve examples/cnn_digits.nas --data digits --trials "$TRIALS" --epochs "$EPOCHS" "${extra[@]}" \
        --seed "$seed" --jobs 1 --threads 1 --quiet --store "$store" >/dev/null
    fi
    stores+=("$store")
  done
done
"$NASC" compare "${stores[@]}" --svg "$OUT/fronts.svg"
