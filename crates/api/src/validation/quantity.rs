//! Resource quantities (`500m`, `1.5Gi`, `1e3`): parsing with upstream's rules and
//! errors, comparison, and the canonical text upstream stores.

use std::cmp::Ordering;

/// Upstream's error for text that is no quantity at all.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const NUMERIC_ERROR: &str = "unable to parse quantity's numeric part";
const SUFFIX_ERROR: &str = "unable to parse quantity's suffix";

/// Values more precise than this power of ten are rounded up (nano units).
const MIN_EXPONENT: i32 = -9;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// A quantity as `mantissa * 10^exponent` in the unit of the resource.
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
    format: Format,
}

struct Parts<'a> {
    negative: bool,
    integer: &'a str,
    fraction: &'a str,
    suffix: &'a str,
}

impl Quantity {
    pub fn parse(s: &str) -> Result<Quantity, &'static str> {
        if s.is_empty() {
            return Err(FORMAT_ERROR);
        }
        let parts = split(s)?;
        let (format, base2, exp) = interpret_suffix(parts.suffix).ok_or(SUFFIX_ERROR)?;
        let digits = format!("{}{}", parts.integer, parts.fraction);
        let mut mantissa = parse_digits(&digits)?;
        let mut exponent = -(parts.fraction.len() as i32);
        if base2 {
            let factor = 1i128.checked_shl(exp as u32).ok_or(NUMERIC_ERROR)?;
            mantissa = mantissa.checked_mul(factor).ok_or(NUMERIC_ERROR)?;
        } else {
            exponent += exp;
        }
        if parts.negative {
            mantissa = -mantissa;
        }
        Ok(Quantity {
            mantissa,
            exponent,
            format,
        }
        .round_up_to(MIN_EXPONENT))
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// Whether the value has no fractional part.
    pub fn is_integer(&self) -> bool {
        self.exponent >= 0 || self.mantissa % pow10(-self.exponent).unwrap_or(i128::MAX) == 0
    }

    /// Rounds away from zero so that the exponent is at least `min` (upstream keeps
    /// nano precision at most, and resource lists milli precision).
    pub fn round_up_to(self, min: i32) -> Quantity {
        if self.exponent >= min {
            return self;
        }
        let Some(div) = pow10(min - self.exponent) else {
            let unit = if self.mantissa < 0 {
                -1
            } else {
                i128::from(self.mantissa != 0)
            };
            return Quantity {
                mantissa: unit,
                exponent: min,
                ..self
            };
        };
        let mut m = self.mantissa / div;
        if self.mantissa % div != 0 {
            m += self.mantissa.signum();
        }
        Quantity {
            mantissa: m,
            exponent: min,
            format: self.format,
        }
    }

    /// Upstream's canonical text: the largest suffix that keeps the number whole.
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        if self.format == Format::BinarySi
            && self.binary_applies()
            && let Some(text) = self.binary_text()
        {
            return text;
        }
        let (mut m, mut e) = strip_tens(self.mantissa, self.exponent);
        while e.rem_euclid(3) != 0 {
            m *= 10;
            e -= 1;
        }
        let suffix = match self.format {
            Format::DecimalExponent if e == 0 => String::new(),
            Format::DecimalExponent => format!("e{e}"),
            _ => decimal_suffix(e).unwrap_or_default().to_string(),
        };
        format!("{m}{suffix}")
    }

    fn binary_applies(&self) -> bool {
        let small = self.cmp(&Quantity::from_int(1024)) == Ordering::Less
            && self.cmp(&Quantity::from_int(-1024)) == Ordering::Greater;
        !small && self.is_integer()
    }

    fn binary_text(&self) -> Option<String> {
        let mut value = if self.exponent >= 0 {
            self.mantissa.checked_mul(pow10(self.exponent)?)?
        } else {
            self.mantissa / pow10(-self.exponent)?
        };
        let mut power = 0;
        while power < 6 && value % 1024 == 0 {
            value /= 1024;
            power += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
        Some(format!("{value}{suffix}"))
    }

    pub fn from_int(n: i64) -> Quantity {
        Quantity {
            mantissa: i128::from(n),
            exponent: 0,
            format: Format::DecimalSi,
        }
    }

    /// The value as a float, for ratios.
    pub fn as_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// The value in units of `10^scale`, rounded up as upstream's `ScaledValue` does
    /// (`milli_value` is `scaled_value(-3)`), saturating at the bounds of i64.
    pub fn scaled_value(&self, scale: i32) -> i64 {
        let shift = self.exponent - scale;
        let value = if shift >= 0 {
            pow10(shift).and_then(|p| self.mantissa.checked_mul(p))
        } else {
            pow10(-shift).map(|p| {
                let whole = self.mantissa / p;
                if self.mantissa % p > 0 {
                    whole + 1
                } else {
                    whole
                }
            })
        };
        match value {
            Some(v) => v.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            None if self.mantissa < 0 => i64::MIN,
            None if self.mantissa == 0 => 0,
            None => i64::MAX,
        }
    }

    /// The value in thousandths, rounded up (CPU in millicores).
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    /// The whole value, rounded up (memory in bytes).
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }
}

/// Quantities are equal when their values are, whatever their notation.
impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = self.mantissa.signum().cmp(&other.mantissa.signum());
        if sign != Ordering::Equal || self.mantissa == 0 {
            return sign;
        }
        let e = self.exponent.min(other.exponent);
        match (
            scale(self.mantissa, self.exponent - e),
            scale(other.mantissa, other.exponent - e),
        ) {
            (Some(a), Some(b)) => a.cmp(&b),
            // Only the side with the larger exponent can overflow; it is the larger in
            // magnitude.
            (None, _) => magnitude_order(self.mantissa, Ordering::Greater),
            (_, None) => magnitude_order(self.mantissa, Ordering::Less),
        }
    }
}

fn magnitude_order(mantissa: i128, larger: Ordering) -> Ordering {
    if mantissa > 0 {
        larger
    } else {
        larger.reverse()
    }
}

fn scale(m: i128, by: i32) -> Option<i128> {
    m.checked_mul(pow10(by)?)
}

fn pow10(n: i32) -> Option<i128> {
    if !(0..=38).contains(&n) {
        return None;
    }
    10i128.checked_pow(n as u32)
}

fn strip_tens(mut m: i128, mut e: i32) -> (i128, i32) {
    while m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    (m, e)
}

fn decimal_suffix(e: i32) -> Option<&'static str> {
    Some(match e {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

/// The format, whether the suffix is a power of two, and its exponent.
fn interpret_suffix(suffix: &str) -> Option<(Format, bool, i32)> {
    let binary = |e| Some((Format::BinarySi, true, e));
    let decimal = |e| Some((Format::DecimalSi, false, e));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        s if s.len() > 1 && s.starts_with(['e', 'E']) => {
            let e: i32 = s[1..].parse().ok()?;
            Some((Format::DecimalExponent, false, e))
        }
        _ => None,
    }
}

fn parse_digits(digits: &str) -> Result<i128, &'static str> {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        return Ok(0);
    }
    trimmed.parse::<i128>().map_err(|_| NUMERIC_ERROR)
}

/// Splits text into sign, integer digits, fraction digits and suffix as upstream's
/// scanner does (so `1.` and `.5` are numbers, and a lone sign is zero).
fn split(s: &str) -> Result<Parts<'_>, &'static str> {
    let b = s.as_bytes();
    let mut pos = 0;
    let negative = b.first() == Some(&b'-');
    if matches!(b.first(), Some(b'-' | b'+')) {
        pos = 1;
    }
    let int_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let integer = &s[int_start..pos];
    let mut fraction = "";
    if pos < b.len() && b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        fraction = &s[start..pos];
    }
    let suffix_start = pos;
    while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < b.len() && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < b.len() {
        return Err(FORMAT_ERROR);
    }
    Ok(Parts {
        negative,
        integer,
        fraction,
        suffix: &s[suffix_start..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().canonical()
    }

    #[test]
    fn decimal_quantities_take_the_largest_whole_suffix() {
        assert_eq!(canon("0.5"), "500m");
        assert_eq!(canon("1000m"), "1");
        assert_eq!(canon("2000"), "2k");
        assert_eq!(canon("1500"), "1500");
        assert_eq!(canon("100m"), "100m");
        assert_eq!(canon("+1"), "1");
        assert_eq!(canon("-250m"), "-250m");
    }

    #[test]
    fn binary_quantities_stay_binary_when_whole() {
        assert_eq!(canon("1024Mi"), "1Gi");
        assert_eq!(canon("1.5Gi"), "1536Mi");
        assert_eq!(canon("0.5Ki"), "512");
        assert_eq!(canon("1500Ki"), "1500Ki");
    }

    #[test]
    fn exponent_quantities_keep_exponent_notation() {
        assert_eq!(canon("1e3"), "1e3");
        assert_eq!(canon("1.5e3"), "1500");
    }

    #[test]
    fn precision_below_nano_rounds_up() {
        assert_eq!(canon("0.0000000001"), "1n");
    }

    #[test]
    fn malformed_text_reports_upstream_errors() {
        assert_eq!(Quantity::parse("abc"), Err(FORMAT_ERROR));
        assert_eq!(Quantity::parse(""), Err(FORMAT_ERROR));
        assert_eq!(Quantity::parse("1Qi"), Err(FORMAT_ERROR));
        assert_eq!(Quantity::parse("1kk"), Err(SUFFIX_ERROR));
    }

    #[test]
    fn comparison_crosses_suffixes() {
        let a = Quantity::parse("500m").unwrap();
        let b = Quantity::parse("1").unwrap();
        assert!(a < b);
        assert_eq!(
            Quantity::parse("1Ki").unwrap(),
            Quantity::parse("1Ki").unwrap()
        );
        assert!(Quantity::parse("1Gi").unwrap() > Quantity::parse("1G").unwrap());
        assert!(Quantity::parse("1e30").unwrap() > Quantity::parse("1n").unwrap());
    }

    #[test]
    fn whole_numbers_are_integers() {
        assert!(Quantity::parse("2").unwrap().is_integer());
        assert!(!Quantity::parse("1500m").unwrap().is_integer());
        assert!(Quantity::parse("2000m").unwrap().is_integer());
    }

    #[test]
    fn scaled_values_round_up() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(q("500m").milli_value(), 500);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("1500m").value(), 2);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("2").milli_value(), 2000);
    }
}
