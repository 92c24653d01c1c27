//! Symbolic dimensions and shapes.
//!
//! A dimension is a Laurent polynomial over named symbols with rational coefficients
//! (`H/2`, `C*4`, `D + 1`, `H*W`, `H/stride`). Keeping it in a canonical form makes
//! equality structural: `H/2*2 == H`. A dimension is *concrete* when it has no symbols.

use std::fmt;
use std::sync::Arc;

/// An exact rational number `num/den`, `den > 0`, in lowest terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    pub fn int(n: i128) -> Ratio {
        Ratio { num: n, den: 1 }
    }
    /// `None` when `den` is zero or the reduced value overflows.
    pub fn new(num: i128, den: i128) -> Option<Ratio> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        let s = if den < 0 { -1 } else { 1 };
        Some(Ratio { num: s * num / g, den: s * den / g })
    }
    pub fn is_zero(self) -> bool {
        self.num == 0
    }
    pub fn is_integer(self) -> bool {
        self.den == 1
    }
    pub fn numer(self) -> i128 {
        self.num
    }
    pub fn denom(self) -> i128 {
        self.den
    }
    fn add(self, o: Ratio) -> Option<Ratio> {
        let num = self.num.checked_mul(o.den)?.checked_add(o.num.checked_mul(self.den)?)?;
        Ratio::new(num, self.den.checked_mul(o.den)?)
    }
    fn mul(self, o: Ratio) -> Option<Ratio> {
        Ratio::new(self.num.checked_mul(o.num)?, self.den.checked_mul(o.den)?)
    }
    fn recip(self) -> Option<Ratio> {
        Ratio::new(self.den, self.num)
    }
}

/// A symbol name; cheap to clone.
type Sym = Arc<str>;

/// A product of symbols with integer powers, sorted by symbol name.
type Monomial = Vec<(Sym, i32)>;

/// A symbolic integer dimension: terms sorted by monomial, no zero coefficients.
/// A concrete dim is one term with the empty monomial (or no term for 0).
/// The terms are shared: the checker clones shapes far more often than it builds dims, and a
/// clone is then one reference count instead of an allocation per term and monomial.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dim {
    terms: Arc<[(Monomial, Ratio)]>,
}

/// Why an arithmetic operation on dimensions failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DimError {
    DivisionByZero,
    /// Division by a sum such as `H/(W+1)`: not representable.
    NonMonomialDivisor,
    Overflow,
}

impl fmt::Display for DimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DimError::DivisionByZero => write!(f, "division by zero"),
            DimError::NonMonomialDivisor => {
                write!(f, "cannot divide by a sum of symbols; divide by a single symbol or number")
            }
            DimError::Overflow => write!(f, "dimension arithmetic overflows"),
        }
    }
}

/// Sort terms and merge equal monomials, dropping zeros.
fn normalize(mut terms: Vec<(Monomial, Ratio)>) -> Result<Dim, DimError> {
    terms.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(Monomial, Ratio)> = Vec::with_capacity(terms.len());
    for (m, c) in terms {
        match out.last_mut() {
            Some((lm, lc)) if *lm == m => *lc = lc.add(c).ok_or(DimError::Overflow)?,
            _ => out.push((m, c)),
        }
    }
    out.retain(|(_, c)| !c.is_zero());
    Ok(Dim { terms: out.into() })
}

impl Dim {
    pub fn int(n: i64) -> Dim {
        Dim::from_ratio(Ratio::int(n as i128))
    }
    fn from_ratio(r: Ratio) -> Dim {
        if r.is_zero() { Dim::zero() } else { Dim { terms: Arc::new([(Vec::new(), r)]) } }
    }
    pub fn sym(name: &str) -> Dim {
        Dim { terms: Arc::new([(vec![(Arc::from(name), 1)], Ratio::int(1))]) }
    }
    pub fn zero() -> Dim {
        Dim { terms: Arc::new([]) }
    }
    pub fn one() -> Dim {
        Dim::int(1)
    }

    /// The value as a rational when no symbols remain.
    pub fn as_ratio(&self) -> Option<Ratio> {
        match &*self.terms {
            [] => Some(Ratio::int(0)),
            [(m, c)] if m.is_empty() => Some(*c),
            _ => None,
        }
    }
    /// The value when it is a concrete integer.
    pub fn as_int(&self) -> Option<i64> {
        let r = self.as_ratio()?;
        if r.is_integer() { i64::try_from(r.numer()).ok() } else { None }
    }
    pub fn is_concrete(&self) -> bool {
        self.as_ratio().is_some()
    }
    /// A concrete value that is not a whole number, e.g. `7/2`.
    pub fn is_fractional(&self) -> bool {
        self.as_ratio().is_some_and(|r| !r.is_integer())
    }
    /// The constant term and the rest: `2*p - 3` is `(-3, 2*p)`.
    pub fn split_constant(&self) -> (Ratio, Dim) {
        let constant = self.terms.iter().find(|(m, _)| m.is_empty()).map_or(Ratio::int(0), |(_, c)| *c);
        let rest = Dim { terms: self.terms.iter().filter(|(m, _)| !m.is_empty()).cloned().collect() };
        (constant, rest)
    }
    /// Every coefficient is a whole number (`2*p + H/2` is not): the dim is an integer for
    /// any integer values of its symbols.
    pub fn has_integer_coefficients(&self) -> bool {
        self.terms.iter().all(|(m, c)| c.is_integer() && m.iter().all(|(_, p)| *p > 0))
    }
    /// Names of the symbols this dim mentions.
    pub fn symbols(&self) -> Vec<String> {
        let mut out: Vec<String> = self.terms.iter().flat_map(|(m, _)| m.iter().map(|(s, _)| s.to_string())).collect();
        out.sort();
        out.dedup();
        out
    }
    /// The symbol's name when the dim is exactly one symbol (`H`, not `2*H` or `H*W`).
    pub fn as_symbol(&self) -> Option<&str> {
        match &*self.terms {
            [(m, c)] if *c == Ratio::int(1) => match m.as_slice() {
                [(s, 1)] => Some(s),
                _ => None,
            },
            _ => None,
        }
    }
    /// A concrete number that is negative or zero.
    pub fn is_nonpositive(&self) -> bool {
        self.as_ratio().is_some_and(|r| r.numer() <= 0)
    }

    pub fn add(&self, o: &Dim) -> Result<Dim, DimError> {
        if let (Some(a), Some(b)) = (self.as_ratio(), o.as_ratio()) {
            return Ok(Dim::from_ratio(a.add(b).ok_or(DimError::Overflow)?));
        }
        normalize(self.terms.iter().chain(o.terms.iter()).cloned().collect())
    }
    pub fn neg(&self) -> Dim {
        let terms = self.terms.iter().map(|(m, c)| (m.clone(), Ratio { num: -c.num, den: c.den })).collect();
        Dim { terms }
    }
    pub fn sub(&self, o: &Dim) -> Result<Dim, DimError> {
        self.add(&o.neg())
    }
    pub fn mul(&self, o: &Dim) -> Result<Dim, DimError> {
        if let (Some(a), Some(b)) = (self.as_ratio(), o.as_ratio()) {
            return Ok(Dim::from_ratio(a.mul(b).ok_or(DimError::Overflow)?));
        }
        let mut terms = Vec::with_capacity(self.terms.len() * o.terms.len());
        for (m1, c1) in self.terms.iter() {
            for (m2, c2) in o.terms.iter() {
                terms.push((mul_monomials(m1, m2), c1.mul(*c2).ok_or(DimError::Overflow)?));
            }
        }
        normalize(terms)
    }
    pub fn div(&self, o: &Dim) -> Result<Dim, DimError> {
        let [(m, c)] = &*o.terms else {
            return Err(if o.terms.is_empty() { DimError::DivisionByZero } else { DimError::NonMonomialDivisor });
        };
        let inv_m: Monomial = m.iter().map(|(s, p)| (s.clone(), -p)).collect();
        let inv = Dim { terms: Arc::new([(inv_m, c.recip().ok_or(DimError::DivisionByZero)?)]) };
        self.mul(&inv)
    }

    /// Replace symbols by dims.
    pub fn substitute(&self, bind: &dyn Fn(&str) -> Option<Dim>) -> Result<Dim, DimError> {
        if self.is_concrete() {
            return Ok(self.clone());
        }
        let mut out = Dim::zero();
        for (m, c) in self.terms.iter() {
            let mut term = Dim::from_ratio(*c);
            for (s, p) in m {
                let base = bind(s).unwrap_or_else(|| Dim::sym(s));
                for _ in 0..p.unsigned_abs() {
                    term = if *p > 0 { term.mul(&base)? } else { term.div(&base)? };
                }
            }
            out = out.add(&term)?;
        }
        Ok(out)
    }
}

fn mul_monomials(a: &Monomial, b: &Monomial) -> Monomial {
    let mut out: Monomial = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                i += 1;
                j += 1;
                (x.0.clone(), x.1 + y.1)
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                i += 1;
                x.clone()
            }
            (Some(x), None) => {
                i += 1;
                x.clone()
            }
            (_, Some(y)) => {
                j += 1;
                y.clone()
            }
            (None, None) => break,
        };
        if next.1 != 0 {
            out.push(next);
        }
    }
    out
}

fn fmt_monomial(m: &Monomial, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (num, den): (Vec<_>, Vec<_>) = m.iter().partition(|(_, p)| *p > 0);
    let pow = |s: &str, p: i32| if p.abs() == 1 { s.to_string() } else { format!("{s}^{}", p.abs()) };
    let num: Vec<String> = num.iter().map(|(s, p)| pow(s, *p)).collect();
    write!(f, "{}", if num.is_empty() { "1".to_string() } else { num.join("*") })?;
    for (s, p) in den {
        write!(f, "/{}", pow(s, *p))?;
    }
    Ok(())
}

fn fmt_term(m: &Monomial, c: Ratio, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let n = c.num.abs();
    if m.is_empty() {
        return if c.den == 1 { write!(f, "{n}") } else { write!(f, "{n}/{}", c.den) };
    }
    if n != 1 {
        write!(f, "{n}*")?;
    }
    fmt_monomial(m, f)?;
    if c.den != 1 {
        write!(f, "/{}", c.den)?;
    }
    Ok(())
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.terms.is_empty() {
            return write!(f, "0");
        }
        // Symbolic terms first (highest degree first), the constant last: `H + 1`.
        let mut terms: Vec<_> = self.terms.iter().collect();
        terms.sort_by_key(|(m, _)| (m.is_empty(), std::cmp::Reverse(m.len())));
        for (i, (m, c)) in terms.iter().enumerate() {
            let neg = c.num < 0;
            match (i, neg) {
                (0, true) => write!(f, "-")?,
                (0, false) => {}
                (_, true) => write!(f, " - ")?,
                (_, false) => write!(f, " + ")?,
            }
            fmt_term(m, *c, f)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// A tensor shape: one dim per axis, batch first, channels last.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    pub fn dims(&self) -> &[Dim] {
        &self.0
    }
    pub fn last(&self) -> Option<&Dim> {
        self.0.last()
    }
    /// Product of all dims.
    pub fn numel(&self) -> Result<Dim, DimError> {
        self.0.iter().try_fold(Dim::one(), |acc, d| acc.mul(d))
    }
    pub fn substitute(&self, bind: &dyn Fn(&str) -> Option<Dim>) -> Result<Shape, DimError> {
        Ok(Shape(self.0.iter().map(|d| d.substitute(bind)).collect::<Result<_, _>>()?))
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dim {
        Dim::sym(s)
    }

    #[test]
    fn division_then_multiplication_is_identity() {
        let h2 = d("H").div(&Dim::int(2)).unwrap();
        assert_eq!(h2.to_string(), "H/2");
        assert_eq!(h2.mul(&Dim::int(2)).unwrap(), d("H"));
    }

    #[test]
    fn prints_canonical_forms() {
        let c4 = d("C").mul(&Dim::int(4)).unwrap();
        assert_eq!(c4.to_string(), "4*C");
        let hw = d("H").mul(&d("W")).unwrap().add(&Dim::int(1)).unwrap();
        assert_eq!(hw.to_string(), "H*W + 1");
        let hs = d("H").div(&d("stride")).unwrap();
        assert_eq!(hs.to_string(), "H/stride");
        assert_eq!(Dim::int(7).div(&Dim::int(2)).unwrap().to_string(), "7/2");
        assert_eq!(d("D").sub(&Dim::int(3)).unwrap().to_string(), "D - 3");
    }

    #[test]
    fn substitution_makes_concrete() {
        let e = d("H").div(&d("s")).unwrap().mul(&d("C")).unwrap();
        let bind = |s: &str| match s {
            "H" => Some(Dim::int(32)),
            "s" => Some(Dim::int(2)),
            "C" => Some(Dim::int(3)),
            _ => None,
        };
        assert_eq!(e.substitute(&bind).unwrap().as_int(), Some(48));
        let frac = d("H").div(&Dim::int(2)).unwrap().substitute(&|_| Some(Dim::int(7))).unwrap();
        assert!(frac.is_fractional());
    }

    #[test]
    fn errors_are_values() {
        assert_eq!(d("H").div(&Dim::zero()), Err(DimError::DivisionByZero));
        let sum = d("W").add(&Dim::int(1)).unwrap();
        assert_eq!(d("H").div(&sum), Err(DimError::NonMonomialDivisor));
        let big = Dim::int(i64::MAX);
        assert!(big.mul(&big).unwrap().mul(&big).is_err());
    }
}
