//! An exact sum of `f64`s, rounded once at the end.
//!
//! `cru` sums floating-point values per key. Summed left to right, the result depends on the
//! order of the additions, so a trail read on several threads (each summing its part, the
//! parts added at the end) would differ in the last bits from a read on one thread. Here every
//! value is added exactly into a fixed-point integer wide enough for any finite `f64` (2¹⁸²
//! units of 2⁻¹⁰⁷⁴: every finite double, plus room for 2⁶⁴ of the largest), and the total is
//! rounded to the nearest `f64` (ties to even) when read: the same answer in any order, and
//! the correctly rounded sum.

/// Limbs of 64 bits, two's complement, little-endian; bit 0 is worth 2⁻¹⁰⁷⁴.
const LIMBS: usize = 35;

/// An exact, order-independent sum of finite `f64`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactSum {
    limbs: [u64; LIMBS],
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum { limbs: [0; LIMBS] }
    }
}

impl ExactSum {
    /// Adds `x`; non-finite values are ignored (callers filter them out).
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() || x == 0.0 {
            return;
        }
        let bits = x.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as usize;
        let fraction = bits & ((1 << 52) - 1);
        // x = mantissa × 2^(shift − 1074).
        let (mantissa, shift) = if exponent == 0 {
            (fraction, 0)
        } else {
            (fraction | (1 << 52), exponent - 1)
        };
        let wide = u128::from(mantissa) << (shift % 64);
        let parts = [wide as u64, (wide >> 64) as u64];
        let at = shift / 64;
        if x > 0.0 {
            self.add_at(at, parts);
        } else {
            self.sub_at(at, parts);
        }
    }

    fn add_at(&mut self, at: usize, parts: [u64; 2]) {
        let mut carry = false;
        for (i, limb) in self.limbs.iter_mut().enumerate().skip(at) {
            let part = parts.get(i - at).copied().unwrap_or(0);
            if part == 0 && !carry {
                if i > at + 1 {
                    break;
                }
                continue;
            }
            let (sum, c1) = limb.overflowing_add(part);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            *limb = sum;
            carry = c1 || c2;
        }
    }

    fn sub_at(&mut self, at: usize, parts: [u64; 2]) {
        let mut borrow = false;
        for (i, limb) in self.limbs.iter_mut().enumerate().skip(at) {
            let part = parts.get(i - at).copied().unwrap_or(0);
            if part == 0 && !borrow {
                if i > at + 1 {
                    break;
                }
                continue;
            }
            let (diff, b1) = limb.overflowing_sub(part);
            let (diff, b2) = diff.overflowing_sub(u64::from(borrow));
            *limb = diff;
            borrow = b1 || b2;
        }
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &ExactSum) {
        let mut carry = false;
        for (limb, &o) in self.limbs.iter_mut().zip(&other.limbs) {
            let (sum, c1) = limb.overflowing_add(o);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            *limb = sum;
            carry = c1 || c2;
        }
    }

    /// The sum, rounded to the nearest `f64` (ties to even); ±infinity beyond `f64::MAX`.
    pub fn value(&self) -> f64 {
        let negative = self.limbs[LIMBS - 1] >> 63 == 1;
        let mut magnitude = self.limbs;
        if negative {
            // Two's complement: invert and add one.
            let mut carry = true;
            for limb in &mut magnitude {
                let (v, c) = (!*limb).overflowing_add(u64::from(carry));
                *limb = v;
                carry = c;
            }
        }
        let Some(top) = magnitude.iter().rposition(|&l| l != 0) else {
            return 0.0;
        };
        let bit = |i: usize| (magnitude[i / 64] >> (i % 64)) & 1;
        // The highest set bit.
        let high = top * 64 + 63 - magnitude[top].leading_zeros() as usize;
        let value = if high < 53 {
            // Exact: below 2^53 units of 2^-1074 (subnormal or the smallest normals).
            (magnitude[0] as f64) * f64::from_bits(1)
        } else {
            let low = high - 52; // the lowest bit kept
            let mut mantissa = 0u64;
            for i in (low..=high).rev() {
                mantissa = (mantissa << 1) | bit(i);
            }
            let round = bit(low - 1) == 1;
            let sticky = (0..low - 1).any(|i| bit(i) == 1);
            let mut exponent = low; // value = mantissa × 2^(exponent − 1074)
            if round && (sticky || mantissa & 1 == 1) {
                mantissa += 1;
                if mantissa == 1 << 53 {
                    mantissa >>= 1;
                    exponent += 1;
                }
            }
            // mantissa has 53 bits: 1.f × 2^(exponent − 1074 + 52).
            let biased = exponent as u64 + 1;
            if biased >= 0x7ff {
                f64::INFINITY
            } else {
                f64::from_bits((biased << 52) | (mantissa & ((1 << 52) - 1)))
            }
        };
        if negative {
            -value
        } else {
            value
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_where_floats_are_not() {
        let mut s = ExactSum::default();
        for x in [0.1, 0.2, 0.3] {
            s.add(x);
        }
        // 0.1 + 0.2 + 0.3 is 0.6000000000000001 left to right; exactly, it rounds to 0.6.
        assert_eq!(s.value(), 0.6);
        let mut s = ExactSum::default();
        for x in [1e300, 1.0, -1e300] {
            s.add(x);
        }
        assert_eq!(s.value(), 1.0);
        let mut s = ExactSum::default();
        s.add(f64::MAX);
        s.add(f64::MAX);
        assert_eq!(s.value(), f64::INFINITY);
        let mut s = ExactSum::default();
        s.add(f64::from_bits(1));
        s.add(-2.5);
        assert_eq!(s.value(), -2.5);
        assert_eq!(ExactSum::default().value(), 0.0);
    }

    proptest! {
        /// One value reads back as itself; any split and order gives the same sum; integers
        /// (exact in floats) sum as floats do.
        #[test]
        fn order_and_split_do_not_matter(
            xs in proptest::collection::vec(any::<f64>().prop_filter("finite", |x| x.is_finite()), 0..40),
            ints in proptest::collection::vec(-1_000_000i64..1_000_000, 0..40),
            cut in 0usize..40,
        ) {
            if let Some(&x) = xs.first() {
                let mut one = ExactSum::default();
                one.add(x);
                prop_assert_eq!(one.value(), x + 0.0);
            }
            let mut all = ExactSum::default();
            xs.iter().for_each(|&x| all.add(x));
            let cut = cut.min(xs.len());
            let (mut a, mut b) = (ExactSum::default(), ExactSum::default());
            xs[cut..].iter().rev().for_each(|&x| a.add(x));
            xs[..cut].iter().for_each(|&x| b.add(x));
            a.merge(&b);
            prop_assert_eq!(a.value().to_bits(), all.value().to_bits());
            let mut s = ExactSum::default();
            ints.iter().for_each(|&i| s.add(i as f64));
            prop_assert_eq!(s.value(), ints.iter().sum::<i64>() as f64);
        }
    }
}
