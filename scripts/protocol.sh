#!/usr/bin/env bash
# The αNAS paper's two CIFAR-10 protocols (§6.1.1), on the official Fashion-MNIST:
#   weak   — seed examples/cnn2_fashion.nas (the paper's small CNN). Goal: ≥ +3 points test
#            accuracy at no more than the seed's parameters.
#   strong — seed examples/resnet_fashion.nas. Goal: a front member within 0.3 points of the
#            seed's test accuracy with ≥ 40 % fewer MACs and ≥ 40 % fewer parameters.
# Both search on accuracy vs params and MACs, then retrain the seed and every front member at full
# fidelity (every training image outside the 5,000-image validation split, FINAL_EPOCHS epochs,
# 2 seeds; `--final-epochs`) and print the table of scripts/protocol_table.py. Resumable: run
# the same command again after a stop or a kill.
#
#   scripts/protocol.sh weak|strong [OUT_DIR]
#
# Environment: NASC (binary, default target/release/nasc), TRIALS (default 100), SUBSET (training
# images per candidate, default 5000), EPOCHS (default 2), FINAL_EPOCHS (default 5), JOBS (2),
# SEED (1), INHERIT (0; 1: --inherit — the fidelity study found the inherited score ranks worse
# than the same budget from scratch, docs/search.md).
set -euo pipefail
WHICH=${1:?weak or strong}
OUT=${2:-protocol-runs}
NASC=${NASC:-target/release/nasc}
TRIALS=${TRIALS:-100}
SUBSET=${SUBSET:-5000}
EPOCHS=${EPOCHS:-2}
FINAL_EPOCHS=${FINAL_EPOCHS:-5}
JOBS=${JOBS:-2}
SEED=${SEED:-1}
INHERIT=${INHERIT:-0}
case "$WHICH" in
  weak) MODEL=examples/cnn2_fashion.nas ;;
  strong) MODEL=examples/resnet_fashion.nas ;;
  *) echo "usage: scripts/protocol.sh weak|strong [OUT_DIR]" >&2; exit 2 ;;
esac
scripts/install_data.sh
mkdir -p "$OUT"
store="$OUT/$WHICH.sqlite"
extra=()
[ "$INHERIT" = 1 ] && extra+=(--inherit)
if [ -e "$store" ]; then
  "$NASC" evolve --resume "$store" --jobs "$JOBS"
else
  "$NASC" evolve "$MODEL" --data fashion --trials "$TRIALS" --epochs "$EPOCHS" --train-subset "$SUBSET" \
    --objectives params,macs --final-epochs "$FINAL_EPOCHS" --final-seeds 2 --seed "$SEED" --jobs "$JOBS" \
    --threads 1 "${extra[@]}" --store "$store"
fi
"$NASC" evolve --export json --store "$store" > "$OUT/$WHICH.json"
python3 scripts/protocol_table.py "$OUT/$WHICH.json" --goal "$WHICH" | tee "$OUT/$WHICH.md"
