//! The currencies the ingest API accepts: their minor-unit exponent and a reference rate to USD
//! for rules and velocity sums. The rates are fixed reference values (a risk signal does not need
//! today's mid-market rate); a rates feed would replace this table.

/// (ISO code, decimal places, USD per one unit)
const CURRENCIES: &[(&str, u32, f64)] = &[
    ("USD", 2, 1.0),
    ("EUR", 2, 1.08),
    ("GBP", 2, 1.27),
    ("CAD", 2, 0.73),
    ("AUD", 2, 0.66),
    ("NZD", 2, 0.60),
    ("CHF", 2, 1.12),
    ("SEK", 2, 0.095),
    ("NOK", 2, 0.093),
    ("DKK", 2, 0.145),
    ("PLN", 2, 0.25),
    ("CZK", 2, 0.043),
    ("BRL", 2, 0.20),
    ("MXN", 2, 0.058),
    ("INR", 2, 0.012),
    ("SGD", 2, 0.74),
    ("HKD", 2, 0.128),
    ("JPY", 0, 0.0067),
    ("KRW", 0, 0.00073),
];

/// The currency's code in canonical form if we accept it.
pub fn find(code: &str) -> Option<&'static str> {
    CURRENCIES.iter().find(|(c, _, _)| c.eq_ignore_ascii_case(code)).map(|(c, _, _)| *c)
}

/// An amount in minor units as a decimal amount of its currency (1999 USD → 19.99; 500 JPY → 500).
pub fn to_major(amount_minor: i64, code: &str) -> f64 {
    let places = CURRENCIES.iter().find(|(c, _, _)| *c == code).map_or(2, |(_, p, _)| *p);
    amount_minor as f64 / 10f64.powi(places as i32)
}

/// The amount in US dollars at the reference rate.
pub fn to_usd(amount_minor: i64, code: &str) -> f64 {
    let rate = CURRENCIES.iter().find(|(c, _, _)| *c == code).map_or(1.0, |(_, _, r)| *r);
    to_major(amount_minor, code) * rate
}

/// SQL for an amount's value in US cents at these rates, from the columns `amount_minor` and
/// `currency` (for bulk work in the database: the seed's history).
pub fn usd_cents_sql(amount_minor: &str, currency: &str) -> String {
    let cases: String = CURRENCIES.iter().map(|(code, places, usd)| format!("WHEN '{code}' THEN {} ", usd * 100.0 / 10f64.powi(*places as i32))).collect();
    format!("CAST(ROUND({amount_minor} * (CASE {currency} {cases}ELSE 1.0 END)) AS BIGINT)")
}

pub fn supported() -> impl Iterator<Item = &'static str> {
    CURRENCIES.iter().map(|(c, _, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_follow_the_currency() {
        assert_eq!(to_major(1999, "USD"), 19.99);
        assert_eq!(to_major(500, "JPY"), 500.0);
        assert!((to_usd(10_000, "JPY") - 67.0).abs() < 1e-9);
        assert_eq!(find("eur"), Some("EUR"));
        assert_eq!(find("XYZ"), None);
    }
}
