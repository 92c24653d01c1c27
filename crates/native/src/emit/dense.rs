//! Dense layers as register-blocked tiles: rows × output vectors, fused multiply-add.

use super::*;

impl FnBuilder<'_> {
    /// Rows of `inputs` floats times `[inputs][features padded to 4]` plus bias: tiles of
    /// `ROWS` rows × up to `VECS` vectors of outputs stay in registers across the dot product,
    /// so each weight vector loaded serves every row of the tile.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dense(
        &mut self,
        x: &View,
        y: &View,
        rows: usize,
        inputs: usize,
        features: usize,
        weight: usize,
        bias: Option<usize>,
        clamp: Option<(f32, f32)>,
    ) {
        let fp = features.div_ceil(4) * 4;
        let (xb, yb) = (self.base(x), self.base(y));
        let wb = self.base(&const_view(weight));
        let bb = bias.map(|b| self.base(&const_view(b)));
        let tile = Tile { x_step: inputs, y_step: features, w_step: fp, segments: vec![(0, 0, inputs)], bias: bb, clamp };
        self.tiles(rows, features, &mut |k, first, n, o, nv, lanes| {
            let xr = k.at_scaled(xb, first, inputs);
            let yr = k.at_scaled(yb, first, features);
            k.tile(&tile, xr, wb, yr, (o, n, nv, lanes));
        });
    }

    /// Cover `count` rows (in steps of `ROWS`, then the rest) × `outs` outputs in vectors of
    /// four (in steps of `VECS` vectors, then the rest, the partial vector last and in a block
    /// of its own count): `f(first row, rows, first output float, vectors, lanes of the last)`.
    /// Only the last vector of a row may be partial, and it is stored lane by lane: no store
    /// runs into the next row, whatever order the tiles take.
    pub(super) fn tiles(&mut self, count: usize, outs: usize, f: &mut dyn FnMut(&mut Self, Value, usize, Value, usize, usize)) {
        // Rows in chunks of CHUNK; per chunk, columns outside and the chunk's rows inside: a
        // block of columns' weights stays in L1 while the chunk's rows pass over it, and the
        // chunk's inputs stay in cache across the column blocks.
        let (chunks, last) = (count / CHUNK, count % CHUNK);
        self.for_n(chunks, |k, c| {
            let base = k.b.ins().imul_imm_s(c, CHUNK as i64);
            k.chunk_tiles(base, CHUNK, outs, f);
        });
        if last > 0 {
            let base = self.iconst((chunks * CHUNK) as i64);
            self.chunk_tiles(base, last, outs, f);
        }
    }

    /// `tiles` over rows `base .. base + count`.
    pub(super) fn chunk_tiles(&mut self, base: Value, count: usize, outs: usize, f: &mut dyn FnMut(&mut Self, Value, usize, Value, usize, usize)) {
        self.col_blocks(outs, &mut |k, o, nv, l| k.row_tiles(base, count, &mut |k, first, n| f(k, first, n, o, nv, l)));
    }

    /// `outs` outputs in blocks of `VECS` vectors, then the rest, the partial vector last:
    /// `f(first output float, vectors, lanes of the last)`.
    pub(super) fn col_blocks(&mut self, outs: usize, f: &mut dyn FnMut(&mut Self, Value, usize, usize)) {
        let (whole, lanes) = (outs / 4, outs % 4);
        let (vfull, vrest) = (whole / VECS, whole % VECS);
        self.for_n(vfull, |k, blk| {
            let o = k.b.ins().imul_imm_s(blk, (VECS * 4) as i64);
            f(k, o, VECS, 4);
        });
        let o = self.iconst((vfull * VECS * 4) as i64);
        match (vrest, lanes) {
            (0, 0) => {}
            (v, 0) => f(self, o, v, 4),
            (v, l) if v < VECS => f(self, o, v + 1, l),
            (v, l) => {
                f(self, o, v, 4);
                let o = self.iconst(((vfull * VECS + v) * 4) as i64);
                f(self, o, 1, l);
            }
        }
    }

    /// Rows `base .. base + count` in tiles of `ROWS`, then the rest: `f(first row, rows)`.
    pub(super) fn row_tiles(&mut self, base: Value, count: usize, f: &mut dyn FnMut(&mut Self, Value, usize)) {
        let (full, rest) = (count / ROWS, count % ROWS);
        self.for_n(full, |k, r| {
            let first = k.b.ins().imul_imm_s(r, ROWS as i64);
            let first = k.b.ins().iadd(first, base);
            f(k, first, ROWS);
        });
        if rest > 0 {
            let first = self.b.ins().iadd_imm_s(base, (full * ROWS) as i64);
            f(self, first, rest);
        }
    }

    /// Store the first `lanes` floats of vector `v` at `addr + 4·floats` bytes.
    pub(super) fn st_lanes(&mut self, v: Value, addr: Value, floats: usize, lanes: usize) {
        if lanes >= 4 {
            return self.st(v, addr, floats);
        }
        for l in 0..lanes {
            let x = self.b.ins().extractlane(v, l as u8);
            self.st(x, addr, floats + l);
        }
    }

    /// One tile: `n` rows (row r's input at `xr + r·x_step`, output at `yr + r·y_step`) ×
    /// `nv` vectors of outputs from float `o`, the last with `lanes` floats. The reduction runs
    /// over `reduce` input floats at each tap (a tap: an offset into the input in floats, and
    /// one into the weights in rows).
    pub(super) fn tile(&mut self, t: &Tile, xr: Value, wb: Value, yr: Value, (o, n, nv, lanes): (Value, usize, usize, usize)) {
        let wo = self.at(wb, o);
        let bias: Vec<Value> = (0..nv)
            .map(|j| match t.bias {
                Some(b) => {
                    let a = self.at(b, o);
                    self.ldv(a, 4 * j)
                }
                None => self.vconst(0.0),
            })
            .collect();
        let accs: Vec<Vec<Variable>> = (0..n).map(|_| bias.iter().map(|&b| self.var(F32X4, b)).collect()).collect();
        // One loop per segment with a small body: cranelift places the (pure) multiply-adds at
        // the end of a loop body, after its loads, so a body with many loads would spill.
        for &(x_off, w_row, len) in &t.segments {
            let xs0 = self.iconst(x_off as i64);
            let xs0 = self.at(xr, xs0);
            let ws0 = self.iconst((w_row * t.w_step) as i64);
            let ws0 = self.at(wo, ws0);
            self.for_n(len, |k, i| {
                let xa = k.at(xs0, i);
                let wa = k.at_scaled(ws0, i, t.w_step);
                let ws: Vec<Value> = (0..nv).map(|j| k.ldv(wa, 4 * j)).collect();
                for (r, row) in accs.iter().enumerate() {
                    let xs = k.ld(xa, r * t.x_step);
                    let xv = k.b.ins().splat(F32X4, xs);
                    for (j, &acc) in row.iter().enumerate() {
                        let a = k.b.use_var(acc);
                        let v = k.b.ins().fma(xv, ws[j], a);
                        k.b.def_var(acc, v);
                    }
                }
            });
        }
        let ya = self.at(yr, o);
        for (r, row) in accs.iter().enumerate() {
            for (j, &acc) in row.iter().enumerate() {
                let a = self.b.use_var(acc);
                let v = self.clamp(a, t.clamp, true);
                let l = if j + 1 == nv { lanes } else { 4 };
                self.st_lanes(v, ya, r * t.y_step + 4 * j, l);
            }
        }
    }
}

/// How a tile of rows × output vectors reads its inputs and weights (see `FnBuilder::tile`).
pub(super) struct Tile {
    /// Floats between consecutive rows' inputs and outputs.
    pub(super) x_step: usize,
    pub(super) y_step: usize,
    /// Floats per weight row (the padded output count).
    pub(super) w_step: usize,
    /// The reduction as runs of consecutive input floats and weight rows: (input offset in
    /// floats, first weight row, length).
    pub(super) segments: Vec<(usize, usize, usize)>,
    pub(super) bias: Option<Value>,
    pub(super) clamp: Option<(f32, f32)>,
}
