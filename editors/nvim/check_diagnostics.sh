#!/bin/sh
# Open a .nas file with a shape error in headless Neovim (Debian's `neovim` package), with
# nasc's language server attached through Neovim's built-in LSP client, and print the
# diagnostics Neovim received. Usage: editors/nvim/check_diagnostics.sh [FILE] (from the repo root).
set -eu
FILE=${1:-tests/suite/residual_shape_mismatch.nas}
NASC=${NASC:-$(pwd)/target/debug/nasc}
export NASC
OUT=$(mktemp)
nvim --headless -u NONE -i NONE \
  -c "luafile editors/nvim/nasc.lua" \
  -c "edit $FILE" \
  -c "lua vim.wait(5000, function() return #vim.diagnostic.get(0) > 0 end, 50)" \
  -c "lua local f = io.open('$OUT', 'w'); for _, d in ipairs(vim.diagnostic.get(0)) do f:write(string.format('%s:%d:%d: [%s] %s\n', '$FILE', d.lnum + 1, d.col + 1, d.code or '?', (d.message:gsub('\n.*', '')))) end; f:close()" \
  -c "qa!" >/dev/null 2>&1
cat "$OUT"
test -s "$OUT"
