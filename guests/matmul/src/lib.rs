//! Dense matrix multiplication: the kernel, shared by the guest and the native benchmark.

/// An `n`×`n` matrix of pseudo-random values in [-1, 1), filled from `seed` by a 64-bit LCG (fixed on every
/// platform, so inputs need no file).
pub fn matrix(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed;
    (0..n * n)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// `a × b` for row-major `n`×`n` matrices, i-k-j order so the inner loop streams both rows.
pub fn multiply(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        let row = &mut c[i * n..(i + 1) * n];
        for k in 0..n {
            let aik = a[i * n + k];
            let bk = &b[k * n..(k + 1) * n];
            for (cij, bkj) in row.iter_mut().zip(bk) {
                *cij += aik * bkj;
            }
        }
    }
    c
}

/// Sum of all entries: a cheap fingerprint of the product (its bits must match across hosts).
pub fn checksum(m: &[f64]) -> f64 {
    m.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_neutral() {
        let n = 3;
        let a = matrix(n, 1);
        let mut id = vec![0.0; n * n];
        for i in 0..n {
            id[i * n + i] = 1.0;
        }
        assert_eq!(multiply(&a, &id, n), a);
    }
}
