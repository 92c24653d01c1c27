//! Concrete mixing inference through burn autodiff (paper §3.1): run the lowered graph, take the
//! gradient of the output's centre slice along each output dim (pairing) and of the centre
//! element (locality) with respect to the input, and read the mixing matrix off the non-zero
//! pattern. The test oracle for the abstract inference in `props/`.
//!
//! Gradients see what an op *uses* at this input, which can be less than what it reads: a ReLU
//! at a negative value or a max-pool's non-maximal elements pass no gradient. Use inputs where
//! the ops are active (the paper uses all-ones inputs).

use super::{Net, RANK};
use burn::tensor::{Device, Distribution, Tensor};
use nasc_core::ops::mixing::{Level, Mixing};

/// The concrete mixing from the first input to the first output of `net`, at a random input
/// with entries in [0.5, 1.5] of logical shape `dims` (on an autodiff device).
pub fn concrete_mixing(net: &Net, dims: &[usize], device: &Device) -> Mixing {
    let r = dims.len();
    let data = Tensor::<RANK>::random(super::padded_dims(dims), Distribution::Uniform(0.5, 1.5), device).into_data();
    // burn keeps no tape after a backward pass: each gradient gets its own forward pass.
    let forward = || {
        let x = Tensor::<RANK>::from_data(data.clone(), device).require_grad();
        let y = net.forward(vec![x.clone()]).remove(0);
        (x, y)
    };
    let out_dims = forward().1.dims();
    let c = net.plan.output_shapes.first().map_or(0, Vec::len);
    let centre: Vec<usize> = out_dims.iter().map(|d| d / 2).collect();
    let mut m = Mixing::filled(r, c, Level::X);
    let grad_positions = |keep: Option<usize>| -> Vec<usize> {
        let (x, y) = forward();
        let mut s = y;
        for (d, &size) in out_dims.iter().enumerate() {
            if Some(d) != keep && size > 1 {
                s = s.narrow(d, centre[d], 1);
            }
        }
        // A random combination of the slice, not its plain sum: a sum can cancel (a layer
        // norm's outputs sum to a constant) where every element still depends on the input.
        let w = Tensor::<RANK>::random(s.dims(), Distribution::Uniform(0.5, 1.5), device);
        let grads = (s * w).sum().backward();
        let g: Vec<f32> = x.grad(&grads).map(|g| g.into_data().try_to_vec::<f32>().unwrap_or_default()).unwrap_or_default();
        // positions along each logical input dim that carry a non-zero gradient
        (0..r)
            .map(|i| {
                let mut seen = vec![false; dims[i]];
                for (e, v) in g.iter().enumerate() {
                    if *v != 0.0 {
                        let mut rest = e;
                        let mut coord = vec![0; r];
                        for k in (0..r).rev() {
                            coord[k] = rest % dims[k];
                            rest /= dims[k];
                        }
                        seen[coord[i]] = true;
                    }
                }
                seen.iter().filter(|s| **s).count()
            })
            .collect()
    };
    let element = grad_positions(None);
    for j in 0..c {
        let slice = grad_positions(Some(RANK - c + j));
        for i in 0..r {
            if slice[i] < dims[i] || element[i] == 0 {
                continue;
            }
            m.set(
                i,
                j,
                match element[i] {
                    n if n == dims[i] => Level::A,
                    1 => Level::O,
                    _ => Level::M,
                },
            );
        }
    }
    m
}
