//! The microservice-aware autoencoder (DistAppGuard §4), trained here in Rust.
//!
//! ```text
//!  edges of ms 1 ─► [enc 1] ─┐                       ┌─► [dec 1] ─► reconstruction of ms 1's edges
//!  edges of ms 2 ─► [enc 2] ─┼─► shared bottleneck ─►┼─► [dec 2] ─► …
//!  edges of ms G ─► [enc G] ─┘   (dense, tanh)        └─► [dec G]
//! ```
//!
//! Each microservice's edges have their own first encoder block (block-sparse weights: an edge feeds only its
//! group's hidden units), the blocks meet in a shared bottleneck, and the decoder mirrors it. A group learns
//! its own service's normal behaviour; the bottleneck learns how services behave *together* — the attacks of the
//! paper are normal for each service alone and abnormal only jointly. The per-group reconstruction errors say
//! *where* an anomaly is.
//!
//! Activations: tanh in the hidden layers, sigmoid at the output (inputs are scaled to [0, 1] by the training
//! maxima). Loss: mean squared error. Optimizer: Adam. Parameters live in one flat vector so that the optimizer
//! is one loop.

use rand::{Rng, SeedableRng};

/// Shape of the network.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Architecture {
    /// Input edge indices of each group (microservice).
    pub groups: Vec<Vec<usize>>,
    /// Hidden units of each group's encoder block.
    pub hidden: Vec<usize>,
    /// Bottleneck units.
    pub bottleneck: usize,
    /// Input width E.
    pub edges: usize,
}

impl Architecture {
    /// Sizes from the groups: `min(16, ⌈E_g / 2⌉)` hidden units per group, a bottleneck of a third of the
    /// hidden width (2–32).
    pub fn for_groups(groups: Vec<Vec<usize>>, edges: usize) -> Self {
        let hidden: Vec<usize> = groups.iter().map(|g| g.len().div_ceil(2).clamp(1, 16)).collect();
        let h: usize = hidden.iter().sum();
        Self {
            bottleneck: (h / 3).clamp(2, 32),
            groups,
            hidden,
            edges,
        }
    }

    /// Total hidden width H.
    pub fn hidden_width(&self) -> usize {
        self.hidden.iter().sum()
    }
}

/// Offsets of every tensor in the flat parameter vector.
#[derive(Debug, Clone)]
struct Layout {
    enc: Vec<usize>,
    enc_b: usize,
    w2: usize,
    b2: usize,
    w3: usize,
    b3: usize,
    dec: Vec<usize>,
    dec_b: usize,
    len: usize,
    /// First hidden unit of each group's block.
    block: Vec<usize>,
}

impl Layout {
    fn new(a: &Architecture) -> Self {
        let (h, b, e) = (a.hidden_width(), a.bottleneck, a.edges);
        let mut at = 0;
        let mut take = |n: usize| {
            let o = at;
            at += n;
            o
        };
        let enc = a
            .groups
            .iter()
            .zip(&a.hidden)
            .map(|(g, hg)| take(g.len() * hg))
            .collect();
        let enc_b = take(h);
        let w2 = take(h * b);
        let b2 = take(b);
        let w3 = take(b * h);
        let b3 = take(h);
        let dec = a
            .groups
            .iter()
            .zip(&a.hidden)
            .map(|(g, hg)| take(hg * g.len()))
            .collect();
        let dec_b = take(e);
        let mut block = Vec::with_capacity(a.hidden.len());
        let mut s = 0;
        for hg in &a.hidden {
            block.push(s);
            s += hg;
        }
        Self {
            enc,
            enc_b,
            w2,
            b2,
            w3,
            b3,
            dec,
            dec_b,
            len: at,
            block,
        }
    }
}

/// A trained (or training) autoencoder.
#[derive(Debug, Clone)]
pub struct Autoencoder {
    /// Its shape.
    pub arch: Architecture,
    layout: Layout,
    /// Every parameter, flat.
    pub theta: Vec<f32>,
}

/// Activations of one forward pass, kept for the backward pass.
struct Trace {
    h1: Vec<f32>,
    z: Vec<f32>,
    h3: Vec<f32>,
    y: Vec<f32>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainSettings {
    /// Passes over the data.
    pub epochs: usize,
    /// Samples per gradient step.
    pub batch: usize,
    /// Adam step size.
    pub learning_rate: f32,
    /// Seed of the initial weights and the shuffling.
    pub seed: u64,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            epochs: 1500,
            batch: 16,
            learning_rate: 0.01,
            seed: 7,
        }
    }
}

impl Autoencoder {
    /// Xavier-initialized weights, zero biases.
    pub fn new(arch: Architecture, seed: u64) -> Self {
        let layout = Layout::new(&arch);
        let mut theta = vec![0.0f32; layout.len];
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut fill = |theta: &mut [f32], at: usize, fan_in: usize, fan_out: usize| {
            let limit = (6.0 / (fan_in + fan_out).max(1) as f32).sqrt();
            for w in &mut theta[at..at + fan_in * fan_out] {
                *w = rng.random_range(-limit..limit);
            }
        };
        let (h, b) = (arch.hidden_width(), arch.bottleneck);
        for (g, (idx, hg)) in arch.groups.iter().zip(&arch.hidden).enumerate() {
            fill(&mut theta, layout.enc[g], idx.len(), *hg);
            fill(&mut theta, layout.dec[g], *hg, idx.len());
        }
        fill(&mut theta, layout.w2, h, b);
        fill(&mut theta, layout.w3, b, h);
        Self { arch, layout, theta }
    }

    /// Rebuilds an autoencoder from saved parameters.
    pub fn from_parts(arch: Architecture, theta: Vec<f32>) -> Option<Self> {
        let layout = Layout::new(&arch);
        (theta.len() == layout.len).then_some(Self { arch, layout, theta })
    }

    fn forward(&self, x: &[f32]) -> Trace {
        let (a, l, t) = (&self.arch, &self.layout, &self.theta);
        let (h, b) = (a.hidden_width(), a.bottleneck);
        let mut h1 = t[l.enc_b..l.enc_b + h].to_vec();
        for (g, idx) in a.groups.iter().enumerate() {
            let hg = a.hidden[g];
            let w = &t[l.enc[g]..l.enc[g] + idx.len() * hg];
            let out = &mut h1[l.block[g]..l.block[g] + hg];
            for (i, e) in idx.iter().enumerate() {
                let xi = x[*e];
                if xi != 0.0 {
                    for (o, wv) in out.iter_mut().zip(&w[i * hg..(i + 1) * hg]) {
                        *o += xi * wv;
                    }
                }
            }
            for o in out.iter_mut() {
                *o = o.tanh();
            }
        }
        let mut z = t[l.b2..l.b2 + b].to_vec();
        for (i, hv) in h1.iter().enumerate() {
            for (o, wv) in z.iter_mut().zip(&t[l.w2 + i * b..l.w2 + (i + 1) * b]) {
                *o += hv * wv;
            }
        }
        z.iter_mut().for_each(|v| *v = v.tanh());
        let mut h3 = t[l.b3..l.b3 + h].to_vec();
        for (i, zv) in z.iter().enumerate() {
            for (o, wv) in h3.iter_mut().zip(&t[l.w3 + i * h..l.w3 + (i + 1) * h]) {
                *o += zv * wv;
            }
        }
        h3.iter_mut().for_each(|v| *v = v.tanh());
        let mut y = t[l.dec_b..l.dec_b + a.edges].to_vec();
        for (g, idx) in a.groups.iter().enumerate() {
            let hg = a.hidden[g];
            let w = &t[l.dec[g]..l.dec[g] + hg * idx.len()];
            let hin = &h3[l.block[g]..l.block[g] + hg];
            for (j, hv) in hin.iter().enumerate() {
                let row = &w[j * idx.len()..(j + 1) * idx.len()];
                for (e, wv) in idx.iter().zip(row) {
                    y[*e] += hv * wv;
                }
            }
        }
        y.iter_mut().for_each(|v| *v = sigmoid(*v));
        Trace { h1, z, h3, y }
    }

    /// The reconstruction of one input.
    pub fn reconstruct(&self, x: &[f32]) -> Vec<f32> {
        self.forward(x).y
    }

    /// Accumulates the gradient of the squared error of one sample into `grad`; returns the sample's loss.
    fn backward(&self, x: &[f32], grad: &mut [f32]) -> f32 {
        let tr = self.forward(x);
        let (a, l, t) = (&self.arch, &self.layout, &self.theta);
        let (h, b, e) = (a.hidden_width(), a.bottleneck, a.edges);
        let scale = 2.0 / e as f32;
        let mut loss = 0.0;
        // dL/d(pre-sigmoid output)
        let mut dy = vec![0.0f32; e];
        for i in 0..e {
            let d = tr.y[i] - x[i];
            loss += d * d;
            dy[i] = scale * d * tr.y[i] * (1.0 - tr.y[i]);
        }
        for i in 0..e {
            grad[l.dec_b + i] += dy[i];
        }
        // Decoder blocks.
        let mut dh3 = vec![0.0f32; h];
        for (g, idx) in a.groups.iter().enumerate() {
            let hg = a.hidden[g];
            let w = &t[l.dec[g]..l.dec[g] + hg * idx.len()];
            for j in 0..hg {
                let hv = tr.h3[l.block[g] + j];
                let mut acc = 0.0;
                for (k, ei) in idx.iter().enumerate() {
                    grad[l.dec[g] + j * idx.len() + k] += hv * dy[*ei];
                    acc += w[j * idx.len() + k] * dy[*ei];
                }
                dh3[l.block[g] + j] = acc;
            }
        }
        for j in 0..h {
            dh3[j] *= 1.0 - tr.h3[j] * tr.h3[j];
            grad[l.b3 + j] += dh3[j];
        }
        let mut dz = vec![0.0f32; b];
        for i in 0..b {
            let row = l.w3 + i * h;
            let mut acc = 0.0;
            for j in 0..h {
                grad[row + j] += tr.z[i] * dh3[j];
                acc += t[row + j] * dh3[j];
            }
            dz[i] = acc * (1.0 - tr.z[i] * tr.z[i]);
            grad[l.b2 + i] += dz[i];
        }
        let mut dh1 = vec![0.0f32; h];
        for j in 0..h {
            let row = l.w2 + j * b;
            let mut acc = 0.0;
            for i in 0..b {
                grad[row + i] += tr.h1[j] * dz[i];
                acc += t[row + i] * dz[i];
            }
            dh1[j] = acc * (1.0 - tr.h1[j] * tr.h1[j]);
            grad[l.enc_b + j] += dh1[j];
        }
        for (g, idx) in a.groups.iter().enumerate() {
            let hg = a.hidden[g];
            for (k, ei) in idx.iter().enumerate() {
                let xi = x[*ei];
                if xi != 0.0 {
                    for j in 0..hg {
                        grad[l.enc[g] + k * hg + j] += xi * dh1[l.block[g] + j];
                    }
                }
            }
        }
        loss / e as f32
    }

    /// Trains on `samples` (each of width E) with Adam; calls `progress(epoch, mean loss)` after each epoch.
    pub fn train(&mut self, samples: &[Vec<f32>], s: &TrainSettings, mut progress: impl FnMut(usize, f32)) {
        let n = samples.len();
        if n == 0 {
            return;
        }
        let len = self.theta.len();
        let (mut m, mut v, mut grad) = (vec![0.0f32; len], vec![0.0f32; len], vec![0.0f32; len]);
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let mut step = 0i32;
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(s.seed ^ 0x5eed);
        for epoch in 0..s.epochs {
            for i in (1..n).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
            let mut total = 0.0;
            for batch in order.chunks(s.batch.max(1)) {
                grad.iter_mut().for_each(|g| *g = 0.0);
                for &i in batch {
                    total += self.backward(&samples[i], &mut grad);
                }
                step += 1;
                let inv = 1.0 / batch.len() as f32;
                let (c1, c2) = (1.0 - b1.powi(step), 1.0 - b2.powi(step));
                // A slowly decaying step size settles the last epochs.
                let lr = s.learning_rate / (1.0 + epoch as f32 / (s.epochs as f32 / 4.0).max(1.0));
                for k in 0..len {
                    let g = grad[k] * inv;
                    m[k] = b1 * m[k] + (1.0 - b1) * g;
                    v[k] = b2 * v[k] + (1.0 - b2) * g * g;
                    self.theta[k] -= lr * (m[k] / c1) / ((v[k] / c2).sqrt() + eps);
                }
            }
            progress(epoch, total / n as f32);
        }
    }

    /// The dense matrices of each layer (block-sparse layers filled with zeros), for export: (W1 E×H, b1, W2
    /// H×B, b2, W3 B×H, b3, W4 H×E, b4), all row-major.
    #[allow(clippy::type_complexity)]
    pub fn dense_layers(&self) -> [(Vec<f32>, [usize; 2]); 8] {
        let (a, l, t) = (&self.arch, &self.layout, &self.theta);
        let (h, b, e) = (a.hidden_width(), a.bottleneck, a.edges);
        let mut w1 = vec![0.0f32; e * h];
        let mut w4 = vec![0.0f32; h * e];
        for (g, idx) in a.groups.iter().enumerate() {
            let hg = a.hidden[g];
            for (k, ei) in idx.iter().enumerate() {
                for j in 0..hg {
                    w1[ei * h + l.block[g] + j] = t[l.enc[g] + k * hg + j];
                    w4[(l.block[g] + j) * e + ei] = t[l.dec[g] + j * idx.len() + k];
                }
            }
        }
        [
            (w1, [e, h]),
            (t[l.enc_b..l.enc_b + h].to_vec(), [h, 0]),
            (t[l.w2..l.w2 + h * b].to_vec(), [h, b]),
            (t[l.b2..l.b2 + b].to_vec(), [b, 0]),
            (t[l.w3..l.w3 + b * h].to_vec(), [b, h]),
            (t[l.b3..l.b3 + h].to_vec(), [h, 0]),
            (w4, [h, e]),
            (t[l.dec_b..l.dec_b + e].to_vec(), [e, 0]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two groups of edges that move together in a fixed ratio: the autoencoder must learn the ratio.
    fn data(n: usize) -> Vec<Vec<f32>> {
        (0..n)
            .map(|i| {
                let load = 0.2 + 0.6 * (i as f32 / n as f32);
                vec![load, 0.5 * load, load * 0.9, 0.3]
            })
            .collect()
    }

    #[test]
    fn learns_normal_and_flags_a_broken_ratio() {
        let arch = Architecture::for_groups(vec![vec![0, 1], vec![2, 3]], 4);
        let mut ae = Autoencoder::new(arch, 1);
        let mut last = f32::MAX;
        ae.train(
            &data(64),
            &TrainSettings {
                epochs: 400,
                ..Default::default()
            },
            |_, l| last = l,
        );
        assert!(last < 2e-3, "training converges: {last}");
        let err = |x: &[f32]| {
            ae.reconstruct(x)
                .iter()
                .zip(x)
                .map(|(y, x)| (y - x).powi(2))
                .sum::<f32>()
                / 4.0
        };
        let normal = err(&[0.5, 0.25, 0.45, 0.3]);
        // Each group's values are individually in range; jointly they contradict the learned relation.
        let broken = err(&[0.8, 0.4, 0.2, 0.3]);
        assert!(broken > 10.0 * normal, "broken {broken} vs normal {normal}");
    }

    #[test]
    // The network is mutated while the gradient is indexed: an index loop is the clear form here.
    #[allow(clippy::needless_range_loop)]
    fn gradient_matches_finite_differences() {
        let arch = Architecture::for_groups(vec![vec![0, 1, 2], vec![3, 4]], 5);
        let mut ae = Autoencoder::new(arch, 5);
        let x = [0.2f32, 0.9, 0.4, 0.6, 0.1];
        let mut grad = vec![0.0f32; ae.theta.len()];
        ae.backward(&x, &mut grad);
        let loss = |ae: &Autoencoder| {
            let y = ae.reconstruct(&x);
            y.iter().zip(&x).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>() / 5.0
        };
        let h = 1e-3f32;
        let mut checked = 0;
        for k in 0..ae.theta.len() {
            let orig = ae.theta[k];
            ae.theta[k] = orig + h;
            let up = loss(&ae);
            ae.theta[k] = orig - h;
            let down = loss(&ae);
            ae.theta[k] = orig;
            let numeric = (up - down) / (2.0 * f64::from(h));
            let analytic = f64::from(grad[k]);
            assert!(
                (numeric - analytic).abs() <= 1e-3 * numeric.abs().max(analytic.abs()).max(1e-2),
                "parameter {k}: numeric {numeric} vs analytic {analytic}"
            );
            checked += 1;
        }
        assert!(checked > 20);
    }

    #[test]
    fn dense_layers_reproduce_the_forward_pass() {
        let arch = Architecture::for_groups(vec![vec![0, 2], vec![1]], 3);
        let ae = Autoencoder::new(arch, 3);
        let x = [0.3f32, 0.7, 0.1];
        let layers = ae.dense_layers();
        let mm = |inp: &[f32], (w, [r, c]): &(Vec<f32>, [usize; 2]), (bias, _): &(Vec<f32>, [usize; 2])| -> Vec<f32> {
            (0..*c)
                .map(|j| bias[j] + (0..*r).map(|i| inp[i] * w[i * c + j]).sum::<f32>())
                .collect()
        };
        let h1: Vec<f32> = mm(&x, &layers[0], &layers[1]).into_iter().map(f32::tanh).collect();
        let z: Vec<f32> = mm(&h1, &layers[2], &layers[3]).into_iter().map(f32::tanh).collect();
        let h3: Vec<f32> = mm(&z, &layers[4], &layers[5]).into_iter().map(f32::tanh).collect();
        let y: Vec<f32> = mm(&h3, &layers[6], &layers[7]).into_iter().map(sigmoid).collect();
        for (a, b) in y.iter().zip(ae.reconstruct(&x)) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
