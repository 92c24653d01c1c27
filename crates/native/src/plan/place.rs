//! Where each tensor lives: buffer placement by liveness (a buffer is reused once its last
//! reader has run), aliases resolved, the plan's steps finished.

use super::*;

impl Builder<'_> {
    /// Fold, fuse, allocate.
    pub(super) fn finish(mut self) -> Result<Plan, NativeError> {
        self.fold_norms();
        self.fuse_clamps();
        let out_t = self.g.outputs[0];
        let (out_shape, _) = self.tensors[out_t].clone().map(|x| (x.1, x.2)).unwrap_or_default();
        // The result is copied out of scratch into the caller's buffer; a fresh storage for the copy.
        let result = self.storage(out_shape.iter().product());
        let in_t = self.g.inputs[0];
        // Liveness: a storage lives until the last step that reads any tensor in it.
        let storage_of = |tensors: &[Option<(Place, Vec<usize>, bool)>], t: usize| match tensors[t].as_ref().map(|x| x.0) {
            Some(Place::Storage(s)) if s != usize::MAX => Some(s),
            _ => None,
        };
        let n = self.steps.len();
        for (i, step) in self.steps.iter().enumerate() {
            for &t in &step.ins {
                if let Some(s) = storage_of(&self.tensors, t) {
                    self.storages[s].last_use = self.storages[s].last_use.max(i + 1);
                }
            }
            for (s, _) in &step.temps {
                self.storages[*s].last_use = i + 1;
            }
        }
        if let Some(s) = storage_of(&self.tensors, out_t) {
            self.storages[s].last_use = n + 1;
        }
        self.storages[result].last_use = n + 2;
        // Allocation in step order, first fit; a storage is created by its first writer.
        let mut free: Vec<(usize, usize)> = Vec::new();
        let mut top = 0usize;
        let mut live: Vec<usize> = Vec::new();
        let alloc = |storages: &mut Vec<Storage>, s: usize, free: &mut Vec<(usize, usize)>, top: &mut usize| {
            if storages[s].offset.is_some() {
                return;
            }
            let size = round_up(storages[s].size, PAD) + PAD;
            let at = match free.iter().position(|&(_, len)| len >= size) {
                Some(i) => {
                    let (off, len) = free[i];
                    if len == size {
                        free.remove(i);
                    } else {
                        free[i] = (off + size, len - size);
                    }
                    off
                }
                None => {
                    let off = *top;
                    *top += size;
                    off
                }
            };
            storages[s].offset = Some(at);
        };
        if let Some(s) = storage_of(&self.tensors, in_t) {
            alloc(&mut self.storages, s, &mut free, &mut top);
            live.push(s);
        }
        for i in 0..n {
            let outs = self.steps[i].outs.clone();
            let temps: Vec<usize> = self.steps[i].temps.iter().map(|t| t.0).collect();
            for s in outs.into_iter().filter_map(|t| storage_of(&self.tensors, t)).chain(temps) {
                alloc(&mut self.storages, s, &mut free, &mut top);
                live.push(s);
            }
            // Storages whose last reader was step i are free for step i + 1.
            let (dead, alive): (Vec<usize>, Vec<usize>) = live.iter().partition(|&&s| self.storages[s].last_use <= i + 1);
            live = alive;
            for s in dead {
                let size = round_up(self.storages[s].size, PAD) + PAD;
                free.push((self.storages[s].offset.unwrap_or(0), size));
            }
            merge(&mut free);
        }
        alloc(&mut self.storages, result, &mut free, &mut top);
        let view = |b: &Builder, t: usize| -> View {
            let (place, shape, _) = b.tensors[t].clone().unwrap_or((Place::Const(0), vec![], false));
            match place {
                Place::Storage(s) => View { buf: Buf::Scratch, offset: b.storages.get(s).and_then(|s| s.offset).unwrap_or(0), shape },
                Place::Const(c) => View { buf: Buf::Const(c), offset: 0, shape },
            }
        };
        let mut steps = Vec::new();
        let input = view(&self, in_t);
        for p in &self.steps {
            let temps =
                p.temps.iter().map(|(s, shape)| View { buf: Buf::Scratch, offset: self.storages[*s].offset.unwrap_or(0), shape: shape.clone() }).collect();
            steps.push(Step {
                kernel: p.kernel.clone(),
                ins: p.ins.iter().map(|&t| view(&self, t)).collect(),
                outs: p.outs.iter().map(|&t| view(&self, t)).collect(),
                temps,
                node: p.node,
            });
        }
        let last = view(&self, out_t);
        let output = View { buf: Buf::Scratch, offset: self.storages[result].offset.unwrap_or(0), shape: out_shape };
        steps.push(Step { kernel: Kernel::Copy, ins: vec![last], outs: vec![output.clone()], temps: vec![], node: usize::MAX });
        Ok(Plan { input, output, steps, scratch: top, consts: self.consts })
    }
}

fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

/// Coalesce adjacent free ranges.
fn merge(free: &mut Vec<(usize, usize)>) {
    free.sort();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &(o, l) in free.iter() {
        match out.last_mut() {
            Some((po, pl)) if *po + *pl == o => *pl += l,
            _ => out.push((o, l)),
        }
    }
    *free = out;
}
