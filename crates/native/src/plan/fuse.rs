//! The exact inference-time rewrites: a batch norm after a conv or dense that nothing else
//! reads folded into its weights, and a ReLU, ReLU6 or clamp run in the store of the kernel
//! before it.

use super::*;

impl Builder<'_> {
    /// Readers of each tensor.
    pub(super) fn readers(&self, t: usize) -> usize {
        self.steps.iter().map(|p| p.ins.iter().filter(|&&i| i == t).count()).sum::<usize>() + usize::from(self.g.outputs.contains(&t))
    }

    /// A batch norm (`Affine`) whose input comes from a conv or dense read by nothing else: the
    /// scale multiplies the weights of each output channel, the shift becomes (part of) the bias.
    pub(super) fn fold_norms(&mut self) {
        let mut i = 0;
        while i < self.steps.len() {
            let (Kernel::Affine { scale, shift, clamp: None }, ins) = (&self.steps[i].kernel, &self.steps[i].ins) else {
                i += 1;
                continue;
            };
            let (scale, shift, x) = (*scale, *shift, ins[0]);
            let producer = self.steps[..i].iter().rposition(|p| p.outs.contains(&x));
            // The producer's weights, bias and output count, when it is a conv or dense that
            // nothing else reads.
            let target = producer.filter(|_| self.readers(x) == 1).and_then(|p| match &self.steps[p].kernel {
                Kernel::Conv { weight, bias, geom, clamp: None, .. } => Some((p, *weight, *bias, geom.features)),
                Kernel::Dense { weight, bias, features, clamp: None, .. } => Some((p, *weight, *bias, *features)),
                _ => None,
            });
            let Some((p, weight, bias, cout)) = target else {
                i += 1;
                continue;
            };
            let (s, t) = (self.consts[scale].clone(), self.consts[shift].clone());
            self.scale_weights(p, weight, &s);
            let b: Vec<f32> = (0..cout).map(|c| bias.map_or(0.0, |b| self.consts[b][c]) * s[c] + t[c]).collect();
            let new_bias = self.constant(padded(b, cout));
            match &mut self.steps[p].kernel {
                Kernel::Conv { bias, .. } | Kernel::Dense { bias, .. } => *bias = Some(new_bias),
                _ => {}
            }
            // The norm's output is now the producer's.
            let y = self.steps[i].outs[0];
            self.steps[p].outs[0] = y;
            self.steps.remove(i);
        }
    }

    /// Multiply each output channel's weights by `s[c]`, in whichever packing the kernel uses.
    pub(super) fn scale_weights(&mut self, p: usize, weight: usize, s: &[f32]) {
        let w = &mut self.consts[weight];
        match &self.steps[p].kernel {
            Kernel::Dense { features, inputs, .. } => {
                let fp = round4(*features);
                for i in 0..*inputs {
                    for o in 0..*features {
                        w[i * fp + o] *= s[o];
                    }
                }
            }
            Kernel::Conv { geom, depthwise: true, .. } => {
                let cp = round4(geom.channels);
                for tap in 0..taps(geom) {
                    for c in 0..geom.channels {
                        w[tap * cp + c] *= s[c];
                    }
                }
            }
            Kernel::Conv { geom, .. } => {
                let (cin_g, cout_g) = (geom.channels / geom.groups, geom.features / geom.groups);
                let cp = round4(cout_g);
                let per_group = taps(geom) * cin_g * cp;
                for g in 0..geom.groups {
                    for r in 0..taps(geom) * cin_g {
                        for o in 0..cout_g {
                            w[g * per_group + r * cp + o] *= s[g * cout_g + o];
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A ReLU, ReLU6 or clamp whose input comes from a conv, dense or affine kernel read by
    /// nothing else runs in that kernel's store.
    pub(super) fn fuse_clamps(&mut self) {
        let mut i = 0;
        while i < self.steps.len() {
            let bounds = match &self.steps[i].kernel {
                Kernel::Act(a) => a.bounds(),
                _ => None,
            };
            let x = self.steps[i].ins.first().copied();
            let producer = x.and_then(|x| self.steps[..i].iter().rposition(|p| p.outs.contains(&x)));
            let fusable = |k: &Kernel| matches!(k, Kernel::Conv { clamp: None, .. } | Kernel::Dense { clamp: None, .. } | Kernel::Affine { clamp: None, .. });
            match (bounds, producer, x) {
                (Some(b), Some(p), Some(x)) if fusable(&self.steps[p].kernel) && self.readers(x) == 1 => {
                    match &mut self.steps[p].kernel {
                        Kernel::Conv { clamp, .. } | Kernel::Dense { clamp, .. } | Kernel::Affine { clamp, .. } => *clamp = Some(b),
                        _ => {}
                    }
                    let y = self.steps[i].outs[0];
                    self.steps[p].outs[0] = y;
                    self.steps.remove(i);
                }
                _ => i += 1,
            }
        }
    }
}
