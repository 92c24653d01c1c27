#!/bin/sh
# The hostile inputs of issue 16 against one nasc binary: exit code, wall time, peak memory
# (GNU time) and the first error line of each. Usage: scripts/hostile_repros.sh [NASC]
# (default target/release/nasc). Writes its inputs to a temporary directory.
set -eu
NASC=$(realpath "${1:-target/release/nasc}")
ROOT=$(pwd)
DIR=$(mktemp -d)
cd "$DIR"
python3 - "$ROOT" <<'PY'
import sys
root = sys.argv[1]
def w(n, t): open(n, "w").write(t)
w("pipe.nas", "model M(x: [B, 8]) -> [B, 8] { return x" + " |> relu" * 1000000 + " }\n")
w("neg.nas", "model M(x: [B, 8]) -> [B, 8] { return x |> dense(" + "-" * 1000000 + "1) }\n")
w("repeats.nas", open(f"{root}/tests/fuzz-corpus/nested_repeats.nas").read())
w("doubling.nas", open(f"{root}/tests/fuzz-corpus/doubling_blocks.nas").read())
w("huge12.nas", "model M(x: [B, 1000000000000, 8, 4]) -> [B, 1000000000000, 8, 4] { return x |> conv(4, kernel: 3) }\n")
w("huge9hole.nas", "model H(x: [B, 1000000000, 8, 4]) -> [B, 1000000000, 8, 4] { return ?<depth >= 1, mixing >= conv>(x) }\n")
w("errors8000.nas", "model M(x: [B, 8]) -> [B, 8] {\n" + "".join(f"    let a{i} = nope{i}\n" for i in range(8000)) + "    return x\n}\n")
w("lets300k.nas", "model M(x: [B, 8]) -> [B, 8] {\n" + "".join(f"    let y{i} = x\n" for i in range(300000)) + "    return x\n}\n")
w("wide.nas", "model M(x: [B, 8, 8, 1]) -> [B, 10] { return x |> flatten |> dense(1000000000) |> dense(10) }\n")
w("imax.nas", "model M(x: [B, 8, 8, 1]) -> [B, 10] { return x |> flatten |> dense(9223372036854775807) |> dense(10) }\n")
s = ""
for i in range(500):
    inner = f" |> Block{i-1}" if i else ""
    s += f"block Block{i}(x: [B, H, W, C]) -> [B, H, W, C] {{\n    let y = x |> conv(C, kernel: 3, bias: false) |> batch_norm |> relu\n    let y = y{inner} |> conv(C, kernel: 3, bias: false) |> batch_norm\n    return relu(x + y)\n}}\n\n"
w("chain500.nas", s + "model Big(x: [B, 32, 32, 16]) -> [B, 10] {\n    return x |> Block499 |> mean(axes: [1, 2]) |> dense(10)\n}\n")
PY
r() {
    c=0
    /usr/bin/time -f "%e s %M KB" -o time.txt "$NASC" "$@" > out.txt 2> err.txt || c=$?
    printf '%-60.60s exit %s  %s  %s\n' "$*" "$c" "$(tail -1 time.txt)" "$(grep -m1 -E 'Error|error' err.txt | cut -c1-80)"
}
r check pipe.nas
r check neg.nas
r check repeats.nas
r check doubling.nas
r check chain500.nas
r props huge12.nas
r build huge9hole.nas --report json
r check errors8000.nas
r check --format json errors8000.nas
r check lets300k.nas
r evolve "$ROOT/examples/cnn_digits.nas" --data digits --store s.sqlite --set top_fraction=0 --set min_to_select=0
r train wide.nas --data digits --epochs 1 --out o
r train imax.nas --data digits --epochs 1 --out o
r train "$ROOT/examples/cnn_digits.nas" --data digits --out /proc/nasc/out
r check /dev/zero
cd / && rm -rf "$DIR"
