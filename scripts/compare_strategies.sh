#!/usr/bin/env bash
# Compare the mutation strategies of `nasc evolve` on the bundled digits with the cnn_digits
# seed: every strategy × SEEDS seeds × TRIALS trials, EPOCHS epochs per candidate. Prints the
# accuracy-vs-params hypervolume (params relative to the seed's, capped at 2×) per run and the
# mean ± std per strategy.
#
#   scripts/compare_strategies.sh [OUT_DIR]        (NASC=path/to/nasc to choose the binary)
set -euo pipefail
OUT=${1:-compare-runs}
NASC=${NASC:-target/release/nasc}
SEEDS=${SEEDS:-"1 2 3 4 5"}
TRIALS=${TRIALS:-30}
EPOCHS=${EPOCHS:-1}
JOBS=${JOBS:-2}
STRATEGIES=${STRATEGIES:-"alpha random-subgraph primer automl-zero"}
mkdir -p "$OUT"
for s in $STRATEGIES; do
  for seed in $SEEDS; do
    store="$OUT/$s-$seed.sqlite"
    if [ -e "$store" ]; then
      "$NASC" evolve --resume "$store" --quiet --jobs "$JOBS" >/dev/null
    else
      "$NASC" evolve examples/cnn_digits.nas --data digits --trials "$TRIALS" --epochs "$EPOCHS" \
        --seed "$seed" --strategy "$s" --jobs "$JOBS" --quiet --store "$store" >/dev/null
    fi
    hv=$("$NASC" evolve --status "$store" | awk '/^hypervolume/ {print $2}')
    best=$("$NASC" evolve --status "$store" | awk '/^best/ {print $3}')
    echo "$s $seed $hv $best" | tee -a "$OUT/hypervolume.txt"
  done
done
echo
echo "strategy          hypervolume mean ± std over seeds (best accuracy mean)"
awk '{n[$1]++; s[$1]+=$3; q[$1]+=$3*$3; b[$1]+=$4}
     END {for (k in n) {m=s[k]/n[k]; v=q[k]/n[k]-m*m; if (v<0) v=0;
          printf "%-17s %.4f ± %.4f  (n=%d, best %.2f %%)\n", k, m, sqrt(v*n[k]/(n[k]>1?n[k]-1:1)), n[k], b[k]/n[k]}}' "$OUT/hypervolume.txt"
