//! The statistics behind the judge: medians, the two-sided Mann-Whitney U test (normal
//! approximation with tie and continuity correction) and the Hodges-Lehmann location shift.

/// The outcome of a two-sided Mann-Whitney U test of `x` against `y`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample (`R1 - n1(n1+1)/2`), as scipy reports it.
    pub u: f64,
    /// Two-sided p-value; 1.0 when every value is identical (no evidence of a difference).
    pub p_value: f64,
}

/// Median of `values`, `None` when empty. Callers pass finite values only.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    median_in_place(&mut sorted)
}

/// Median that reorders `values` instead of copying them (used on the large pairwise set).
fn median_in_place(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (lower, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Some(upper);
    }
    // The lower middle is the largest element of the left partition.
    let lower = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((lower + upper) / 2.0)
}

/// Hodges-Lehmann estimate of the shift of `x` relative to `y`: the median of all pairwise
/// differences `x_i - y_j`. Robust to outliers (unlike a difference of means) and consistent
/// with the rank test that decides significance. `None` when either side is empty.
pub fn hodges_lehmann(x: &[f64], y: &[f64]) -> Option<f64> {
    // At most 300 × 300 per-second samples in practice: 90 000 differences is cheap.
    let mut diffs: Vec<f64> = Vec::with_capacity(x.len().saturating_mul(y.len()));
    for a in x {
        for b in y {
            diffs.push(a - b);
        }
    }
    median_in_place(&mut diffs)
}

/// Two-sided Mann-Whitney U test with the normal approximation, tie correction and
/// continuity correction — the same numbers as scipy's
/// `mannwhitneyu(x, y, method="asymptotic", use_continuity=True)`. Accurate enough for eight
/// or more samples per side. `None` when either side is empty.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));

    // Average ranks over runs of ties; accumulate sum(t^3 - t) for the variance correction.
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        let from_x = all[i..=j].iter().filter(|(_, is_x)| *is_x).count();
        rank_sum_x += avg_rank * from_x as f64;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }

    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let n = n1f + n2f;
    let u = rank_sum_x - n1f * (n1f + 1.0) / 2.0;
    let mean = n1f * n2f / 2.0;
    // n >= 2 here, so n(n-1) > 0.
    let variance = n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if variance <= 0.0 {
        // Every value is the same: the samples cannot be told apart.
        return Some(MannWhitney { u, p_value: 1.0 });
    }
    let z = ((u - mean).abs() - 0.5).max(0.0) / variance.sqrt();
    let p_value = erfc(z / std::f64::consts::SQRT_2).clamp(0.0, 1.0);
    Some(MannWhitney { u, p_value })
}

/// Complementary error function (Numerical Recipes `erfcc`, fractional error < 1.2e-7
/// everywhere), so that tiny p-values keep their relative accuracy. std has no stable erfc.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ans = t * poly.exp();
    if x >= 0.0 { ans } else { 2.0 - ans }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(1e-300)
    }

    #[test]
    fn matches_scipy_documentation_example() {
        // scipy.stats.mannwhitneyu docs: males vs females, method="asymptotic"
        // -> U = 17.0, p = 0.11134688653314041.
        let mw = mann_whitney(&[19.0, 22.0, 16.0, 29.0, 24.0], &[20.0, 11.0, 17.0, 12.0])
            .expect("both sides have samples");
        assert_eq!(mw.u, 17.0);
        assert!(close(mw.p_value, 0.111_346_886_533_140_41, 1e-6), "{mw:?}");
    }

    #[test]
    fn complete_separation_matches_reference() {
        // Reference computed with the scipy formula (asymptotic, continuity): 0.0009391056991.
        let x: Vec<f64> = (1..=8).map(f64::from).collect();
        let y: Vec<f64> = (9..=16).map(f64::from).collect();
        let mw = mann_whitney(&x, &y).expect("both sides have samples");
        assert_eq!(mw.u, 0.0);
        assert!(
            close(mw.p_value, 0.000_939_105_699_117_190_5, 1e-6),
            "{mw:?}"
        );
        // Symmetric: swapping the sides gives the same two-sided p-value.
        let swapped = mann_whitney(&y, &x).expect("both sides have samples");
        assert_eq!(swapped.u, 64.0);
        assert!(close(swapped.p_value, mw.p_value, 1e-12));
    }

    #[test]
    fn ties_use_average_ranks_and_corrected_variance() {
        // Reference (scipy formula with tie correction): U = 7.5, p = 0.010515245935858918.
        let x = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0];
        let y = [3.0, 4.0, 4.0, 5.0, 5.0, 6.0, 7.0, 7.0];
        let mw = mann_whitney(&x, &y).expect("both sides have samples");
        assert_eq!(mw.u, 7.5);
        assert!(close(mw.p_value, 0.010_515_245_935_858_918, 1e-6), "{mw:?}");
    }

    #[test]
    fn overlapping_samples_are_not_significant() {
        // Reference: U = 45, p = 0.7337299956962473.
        let x = [1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 7.7, 8.8, 9.9, 10.1];
        let y = [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0];
        let mw = mann_whitney(&x, &y).expect("both sides have samples");
        assert_eq!(mw.u, 45.0);
        assert!(close(mw.p_value, 0.733_729_995_696_247_3, 1e-6), "{mw:?}");
    }

    #[test]
    fn all_identical_values_give_p_one() {
        let mw = mann_whitney(&[0.0; 10], &[0.0; 12]).expect("both sides have samples");
        assert_eq!(mw.p_value, 1.0);
    }

    #[test]
    fn empty_sides_give_none() {
        assert!(mann_whitney(&[], &[1.0]).is_none());
        assert!(mann_whitney(&[1.0], &[]).is_none());
        assert!(hodges_lehmann(&[], &[]).is_none());
        assert!(median(&[]).is_none());
    }

    #[test]
    fn medians_and_shift() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        // Every pairwise difference of a constant +10 shift is 10.
        let y = [1.0, 5.0, 9.0, 2.0];
        let x: Vec<f64> = y.iter().map(|v| v + 10.0).collect();
        // Differences are 10 plus spread; the median stays at the shift for symmetric data.
        assert_eq!(hodges_lehmann(&[11.0], &[1.0]), Some(10.0));
        let shift = hodges_lehmann(&x, &y).expect("both sides have samples");
        assert!((shift - 10.0).abs() < 1e-9, "{shift}");
    }

    #[test]
    fn erfc_matches_known_values() {
        assert!(close(erfc(0.0), 1.0, 1e-6));
        assert!(close(erfc(1.0), 0.157_299_207_050_285_13, 1e-6));
        assert!(close(erfc(3.0), 2.209_049_699_858_544e-5, 1e-6));
        assert!(close(erfc(-1.0), 1.842_700_792_949_715, 1e-6));
    }
}
