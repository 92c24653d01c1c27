//! Value parsers for the numeric flags of train, evolve and bench, in one place: a number out of
//! range (negative, zero where a count is needed, NaN, infinite) is a clap error naming the flag
//! and the range, before any work starts.

fn number(s: &str) -> Result<f64, String> {
    let x: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !x.is_finite() {
        return Err(format!("{s} is not a finite number"));
    }
    Ok(x)
}

/// A finite number above 0 (learning rates, time limits).
pub fn positive(s: &str) -> Result<f64, String> {
    number(s).and_then(|x| if x > 0.0 { Ok(x) } else { Err(format!("must be above 0, found {s}")) })
}

/// A finite number, 0 or more (weight decay, warm-up epochs, margins).
pub fn non_negative(s: &str) -> Result<f64, String> {
    number(s).and_then(|x| if x >= 0.0 { Ok(x) } else { Err(format!("must be 0 or more, found {s}")) })
}

/// A share from 0 to 1 (accuracies).
pub fn fraction(s: &str) -> Result<f64, String> {
    number(s).and_then(|x| if (0.0..=1.0).contains(&x) { Ok(x) } else { Err(format!("must be from 0 to 1, found {s}")) })
}

/// A whole count of at least 1 (epochs, batch size, jobs, threads).
pub fn count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1, found 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("must be a whole number of at least 1, found {s}")),
    }
}

/// A limit: a whole number, 0 or more (0 usually meaning none).
pub fn limit(s: &str) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(format!("must be a whole number, 0 or more, found {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_numbers_are_refused_with_the_range() {
        assert_eq!(positive("3e-3"), Ok(3e-3));
        assert_eq!(positive("-1").unwrap_err(), "must be above 0, found -1");
        assert_eq!(positive("0").unwrap_err(), "must be above 0, found 0");
        assert_eq!(positive("nan").unwrap_err(), "nan is not a finite number");
        assert_eq!(non_negative("inf").unwrap_err(), "inf is not a finite number");
        assert_eq!(non_negative("-5").unwrap_err(), "must be 0 or more, found -5");
        assert_eq!(non_negative("x").unwrap_err(), "`x` is not a number");
        assert_eq!(fraction("2").unwrap_err(), "must be from 0 to 1, found 2");
        assert_eq!(count("0").unwrap_err(), "must be at least 1, found 0");
        assert_eq!(count("-3").unwrap_err(), "must be a whole number of at least 1, found -3");
        assert_eq!(limit("-5").unwrap_err(), "must be a whole number, 0 or more, found -5");
        assert_eq!((count("8"), limit("0")), (Ok(8), Ok(0)));
    }
}
