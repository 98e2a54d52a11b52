//! Sampling error: the variance of every value of a sampled profile, per
//! sample, from which each view's `±` interval is computed (95%: 1.96
//! standard errors). `docs/sampling.md` derives the formulas.
//!
//! - gperftools `heap_v2`, jemalloc, Go (text or protobuf): the reader (or
//!   Go) divided each stack's sampled count `c` and bytes `s` by the
//!   probability `p = 1 - exp(-a/T)` of sampling its average size `a`.
//!   `Var(S) = S·a·(1-p)/p`, `Var(C) = C·(1-p)/p`.
//! - Google tcmalloc: each sampled allocation carries a weight, written as
//!   an estimate already. `Var(space) = T²·n` for `n` raw samples, and a
//!   profile sample of `count` objects of request size `k` stands for about
//!   `count·p(k+1)` of them. `Var(objects) = Var(space)/bytes²`, and the
//!   residency types scale `space`'s variance by their share squared.
//! - Unsampled profiles (gperftools `heapprofile`): no variance.
//!
//! Variances add over samples (allocations are sampled independently).

use std::fmt;

use crate::profile::{Format, Profile, Sample};

/// How a profile's values relate to the allocations they describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Every allocation recorded: the values are exact.
    Exact,
    /// Sampled every `period` bytes on average and unsampled (by the reader,
    /// as pprof does, or by Go before writing).
    Unsampled {
        /// The mean sampling period, bytes.
        period: i64,
    },
    /// Sampled every `interval` bytes on average; each sample weighted by
    /// the allocator (Google tcmalloc), its estimates taken as written.
    Weighted {
        /// The mean sampling interval, bytes.
        interval: i64,
        /// The profile does not record the interval (tcmalloc leaves
        /// `period` unset): it was estimated from the samples' weights.
        estimated: bool,
    },
}

impl fmt::Display for Sampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = |n: i64| crate::units::scaled(n, "bytes");
        match *self {
            Sampling::Exact => f.write_str("every allocation recorded"),
            Sampling::Unsampled { period } => write!(
                f,
                "sampled every {} on average; values are unsampled as pprof does",
                size(period)
            ),
            Sampling::Weighted {
                interval,
                estimated,
            } => write!(
                f,
                "sampled every {} on average{}; values are tcmalloc's own estimates, taken as written",
                size(interval),
                if estimated {
                    " (estimated from the samples: tcmalloc does not record it)"
                } else {
                    ""
                }
            ),
        }
    }
}

impl Sampling {
    /// True when values carry sampling error.
    pub fn is_sampled(&self) -> bool {
        !matches!(self, Sampling::Exact)
    }
}

/// tcmalloc's sample types (`objects`, `space`, then residency types).
fn is_tcmalloc_layout(p: &Profile) -> bool {
    let kinds: Vec<&str> = p.sample_types.iter().map(|t| t.kind.as_str()).collect();
    kinds.len() >= 2 && kinds[0] == "objects" && kinds[1] == "space"
}

/// How `p`'s values were sampled.
pub fn sampling(p: &Profile) -> Sampling {
    let formats = || p.sources.iter().map(|s| s.format);
    let legacy_sampled = formats().any(|f| {
        matches!(
            f,
            Format::GperftoolsSampledHeap | Format::GoLegacyHeap | Format::Jemalloc
        )
    });
    if legacy_sampled && p.period > 1 {
        return Sampling::Unsampled { period: p.period };
    }
    if !formats().any(|f| f == Format::Pprof) {
        return Sampling::Exact;
    }
    if is_tcmalloc_layout(p) {
        if p.period > 1 {
            return Sampling::Weighted {
                interval: p.period,
                estimated: false,
            };
        }
        return match estimated_interval(p) {
            Some(interval) => Sampling::Weighted {
                interval,
                estimated: true,
            },
            None => Sampling::Exact,
        };
    }
    let by_space = p.period_type.as_ref().is_some_and(|t| t.kind == "space");
    if by_space && p.period > 1 {
        Sampling::Unsampled { period: p.period }
    } else {
        Sampling::Exact
    }
}

/// tcmalloc's interval from its weights: one raw sample of `count` objects
/// of request size `k` weighs `count·(k+1) ≈ T + k - f` bytes, so the
/// smallest such weight is close to `T`; snapped to a power of two within
/// 10% (tcmalloc's intervals are: 2 MiB by default).
fn estimated_interval(p: &Profile) -> Option<i64> {
    let weight = p
        .samples
        .iter()
        .filter_map(|s| {
            let count = *s.values.first()?;
            let request = s.num_label("request")?;
            (count > 0 && request >= 0).then(|| count.saturating_mul(request + 1))
        })
        .min()?;
    let power = 1i64 << (63 - weight.leading_zeros()).min(62);
    let snapped = [power, power.saturating_mul(2)]
        .into_iter()
        .find(|&t| (weight - t).unsigned_abs() * 10 <= t.unsigned_abs());
    Some(snapped.unwrap_or(weight).max(1))
}

/// The probability that an allocation of `size` bytes is sampled when one
/// byte in `period` is marked.
fn probability(size: f64, period: f64) -> f64 {
    1.0 - (-size / period).exp()
}

/// The column paired with `kind`: the bytes of a count, the count of bytes.
fn partner(p: &Profile, kind: &str) -> Option<usize> {
    let other = match kind {
        "inuse_objects" => "inuse_space",
        "inuse_space" => "inuse_objects",
        "alloc_objects" => "alloc_space",
        "alloc_space" => "alloc_objects",
        "objects" => "space",
        "space" => "objects",
        _ => return None,
    };
    p.sample_types.iter().position(|t| t.kind == other)
}

/// The variance of sample type `index` of every sample (in the unit
/// squared), or `None` when the values are exact or the sample type is not
/// one sampling applies to.
pub fn variances(p: &Profile, index: usize, how: Sampling) -> Option<Vec<f64>> {
    let st = p.sample_types.get(index)?;
    let counts = st.unit == "count";
    match how {
        Sampling::Exact => None,
        Sampling::Unsampled { period } => {
            let other = partner(p, &st.kind)?;
            let (ci, si) = if counts {
                (index, other)
            } else {
                (other, index)
            };
            Some(
                p.samples
                    .iter()
                    .map(|s| {
                        let c = s.values.get(ci).copied().unwrap_or(0) as f64;
                        let b = s.values.get(si).copied().unwrap_or(0) as f64;
                        unsampled_variance(c, b, period as f64, counts)
                    })
                    .collect(),
            )
        }
        Sampling::Weighted { interval, .. } => {
            let space = p.sample_types.iter().position(|t| t.kind == "space")?;
            let objects = p.sample_types.iter().position(|t| t.kind == "objects")?;
            Some(
                p.samples
                    .iter()
                    .map(|s| weighted_variance(s, index, space, objects, interval as f64))
                    .collect(),
            )
        }
    }
}

/// `Var(S) = S·a·(1-p)/p` (bytes) or `Var(C) = C·(1-p)/p` (objects).
fn unsampled_variance(count: f64, bytes: f64, period: f64, of_count: bool) -> f64 {
    if count <= 0.0 || bytes <= 0.0 {
        return 0.0;
    }
    let average = bytes / count;
    let p = probability(average, period);
    if p <= 0.0 {
        return 0.0;
    }
    let q = (1.0 - p) / p;
    if of_count {
        count * q
    } else {
        bytes * average * q
    }
}

/// tcmalloc: `Var(space) = T²·count·p(request+1)`, then scaled to the
/// sample type shown.
fn weighted_variance(s: &Sample, index: usize, space: usize, objects: usize, t: f64) -> f64 {
    let value = |i: usize| s.values.get(i).copied().unwrap_or(0) as f64;
    let (count, bytes_total) = (value(objects), value(space));
    if count <= 0.0 || bytes_total <= 0.0 {
        return 0.0;
    }
    let allocated = s
        .num_label("bytes")
        .map_or(bytes_total / count, |b| b as f64);
    let request = s.num_label("request").map_or(allocated, |r| r as f64);
    let var_space = t * t * count * probability(request + 1.0, t);
    match index {
        i if i == space => var_space,
        i if i == objects => var_space / (allocated * allocated).max(1.0),
        i => {
            let share = value(i) / bytes_total;
            var_space * share * share
        }
    }
}

/// Half the width of the 95% interval of a value whose variance is `var`.
pub fn margin(var: f64) -> i64 {
    (1.96 * var.max(0.0).sqrt()).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Label, LabelValue, Source, ValueType};

    fn profile(kinds: &[(&str, &str)], format: Format, period: i64) -> Profile {
        Profile {
            sample_types: kinds.iter().map(|(k, u)| ValueType::new(k, u)).collect(),
            period,
            sources: vec![Source {
                path: "p".into(),
                format,
                header: None,
                stacks: 1,
                frameless: Default::default(),
            }],
            ..Profile::default()
        }
    }

    fn sample(values: Vec<i64>, labels: &[(&'static str, i64)]) -> Sample {
        Sample {
            values,
            locations: vec![],
            labels: labels
                .iter()
                .map(|&(k, v)| Label {
                    key: k.into(),
                    value: LabelValue::Num {
                        value: v,
                        unit: "bytes".into(),
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn small_unsampled_allocations_follow_the_square_root_rule() {
        // 1000 objects of 64 bytes at a 512 KiB period: Var(S) ≈ S·T.
        let mut p = profile(
            &[("inuse_objects", "count"), ("inuse_space", "bytes")],
            Format::GperftoolsSampledHeap,
            524288,
        );
        p.samples.push(sample(vec![1000, 64000], &[]));
        let how = sampling(&p);
        assert_eq!(how, Sampling::Unsampled { period: 524288 });
        let v = variances(&p, 1, how).unwrap()[0];
        let rough = 64000.0 * 524288.0;
        assert!((v / rough - 1.0).abs() < 0.001, "{v} vs {rough}");
        // Objects: Var(C) ≈ C·T/a.
        let c = variances(&p, 0, how).unwrap()[0];
        assert!((c / (1000.0 * 524288.0 / 64.0) - 1.0).abs() < 0.001, "{c}");
    }

    #[test]
    fn large_allocations_are_nearly_exact() {
        let mut p = profile(
            &[("space", "bytes"), ("objects", "count")],
            Format::Jemalloc,
            4096,
        );
        p.samples.push(sample(vec![10 << 20, 10], &[]));
        let v = variances(&p, 0, sampling(&p)).unwrap()[0];
        assert!(v < 1.0, "{v}");
    }

    #[test]
    fn tcmalloc_weights_give_t_squared_per_raw_sample() {
        let two_mib = 2 << 20;
        let mut p = profile(
            &[
                ("objects", "count"),
                ("space", "bytes"),
                ("resident_space", "bytes"),
            ],
            Format::Pprof,
            0,
        );
        // One raw sample of a 100-byte request (112 allocated): weight ≈ T,
        // so count ≈ T/101.
        let count = two_mib / 101;
        p.samples.push(sample(
            vec![count, count * 112, count * 56],
            &[("bytes", 112), ("request", 100)],
        ));
        let how = sampling(&p);
        assert_eq!(
            how,
            Sampling::Weighted {
                interval: two_mib,
                estimated: true
            }
        );
        let t = two_mib as f64;
        let space = variances(&p, 1, how).unwrap()[0];
        // n = count · p(101) ≈ 1 raw sample: Var ≈ T².
        assert!((space / (t * t) - 1.0).abs() < 0.01, "{space}");
        let objects = variances(&p, 0, how).unwrap()[0];
        assert!((objects - space / (112.0 * 112.0)).abs() < 1e-6);
        let resident = variances(&p, 2, how).unwrap()[0];
        assert!((resident - space / 4.0).abs() < 1e-6 * space);
    }

    #[test]
    fn exact_profiles_have_no_interval() {
        let p = profile(
            &[("inuse_objects", "count"), ("inuse_space", "bytes")],
            Format::GperftoolsHeap,
            1,
        );
        assert_eq!(sampling(&p), Sampling::Exact);
        assert_eq!(variances(&p, 1, Sampling::Exact), None);
        assert_eq!(margin(100.0), 20);
        assert_eq!(
            Sampling::Unsampled { period: 524288 }.to_string(),
            "sampled every 512kB on average; values are unsampled as pprof does"
        );
    }
}
