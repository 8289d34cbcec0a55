//! Amounts as people read them, the same on the server (SSR) and in the browser: minor units by
//! each currency's ISO 4217 exponent (¥10,000 and ₩5,000 have no minor units, 1.234 KWD has three),
//! a symbol where it names one currency unambiguously and the code otherwise.
use serde::{Deserialize, Serialize};

use crate::app::dto::group_thousands;

/// An amount in minor units of its ISO 4217 currency (cents for USD, yen for JPY).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

impl Money {
    /// "$1,234.56", "¥10,000", "€0.05", or "1,234.56 SEK" where there is no unambiguous symbol.
    pub fn display(&self) -> String {
        format_minor(self.minor, &self.currency)
    }

    /// The amount marked as approximate ("≈ $84.74"), for totals converted at reference rates.
    pub fn display_approx(&self) -> String {
        format!("≈ {}", self.display())
    }
}

/// The number of decimal places of `currency` (ISO 4217 minor-unit exponent); 2 for any code not
/// listed, as for most currencies.
pub fn exponent(currency: &str) -> u32 {
    match currency {
        // No minor units. Of the currencies the ingest API accepts: JPY and KRW.
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        // Thousandths (none of them accepted by the ingest API yet).
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// The symbol used before the amount, only where it cannot be mistaken for another currency's
/// (en-US conventions: "CA$" rather than "$" for Canadian dollars).
pub fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        "KRW" => "₩",
        "INR" => "₹",
        "CAD" => "CA$",
        "AUD" => "A$",
        "NZD" => "NZ$",
        "HKD" => "HK$",
        "MXN" => "MX$",
        "BRL" => "R$",
        _ => return None,
    })
}

/// `minor` units of `currency` with thousands grouped and exactly the currency's decimals.
pub fn format_minor(minor: i64, currency: &str) -> String {
    let places = exponent(currency);
    let scale = 10u64.pow(places);
    let abs = minor.unsigned_abs();
    let whole = group_thousands(abs / scale);
    let number = if places == 0 { whole } else { format!("{whole}.{:0width$}", abs % scale, width = places as usize) };
    let sign = if minor < 0 { "-" } else { "" };
    match symbol(currency) {
        Some(symbol) => format!("{sign}{symbol}{number}"),
        None => format!("{sign}{number} {currency}"),
    }
}

/// An exchange rate to four significant digits, trailing zeros dropped: 1.08, 0.0067, 149.3.
pub fn format_rate(rate: f64) -> String {
    if !rate.is_finite() || rate <= 0.0 {
        return "?".to_string();
    }
    let magnitude = rate.log10().floor() as i32;
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{rate:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(minor: i64, currency: &str) -> String {
        Money { minor, currency: currency.into() }.display()
    }

    #[test]
    fn amounts_have_their_currencys_minor_units() {
        // Exponent 0: the minor unit is the yen (won).
        assert_eq!(show(10_000, "JPY"), "¥10,000");
        assert_eq!(show(5, "JPY"), "¥5");
        assert_eq!(show(1_234_567, "KRW"), "₩1,234,567");
        // Exponent 2.
        assert_eq!(show(1_234, "USD"), "$12.34");
        assert_eq!(show(500, "EUR"), "€5.00");
        assert_eq!(show(7, "GBP"), "£0.07");
        assert_eq!(show(123_456_789, "USD"), "$1,234,567.89");
        assert_eq!(show(100, "SEK"), "1.00 SEK");
        // Exponent 3 (no accepted currency has it, PayPal data could).
        assert_eq!(show(1_234, "KWD"), "1.234 KWD");
        assert_eq!(show(5, "BHD"), "0.005 BHD");
        assert_eq!(show(1_234_567_890, "OMR"), "1,234,567.890 OMR");
        // Signs, zero, and the extremes of i64.
        assert_eq!(show(-5, "EUR"), "-€0.05");
        assert_eq!(show(-10_000, "JPY"), "-¥10,000");
        assert_eq!(show(0, "JPY"), "¥0");
        assert_eq!(show(0, "USD"), "$0.00");
        assert_eq!(show(i64::MIN, "USD"), "-$92,233,720,368,547,758.08");
    }

    #[test]
    fn the_currencies_the_ingest_accepts_have_their_iso_4217_exponents() {
        // ISO 4217: every one of the 19 has two decimals except the yen and the won, none has three.
        let two = ["USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "BRL", "MXN", "INR", "SGD", "HKD"];
        for code in two {
            assert_eq!(exponent(code), 2, "{code}");
        }
        for code in ["JPY", "KRW"] {
            assert_eq!(exponent(code), 0, "{code}");
        }
    }

    #[test]
    fn symbols_never_leave_two_currencies_looking_alike() {
        assert_eq!(show(500, "CAD"), "CA$5.00");
        assert_eq!(show(500, "AUD"), "A$5.00");
        assert_eq!(show(500, "CHF"), "5.00 CHF");
        let codes = ["USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "BRL", "MXN", "INR", "SGD", "HKD", "JPY", "KRW"];
        let symbols: Vec<&str> = codes.iter().filter_map(|c| symbol(c)).collect();
        let mut unique = symbols.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), symbols.len(), "a symbol is used twice: {symbols:?}");
    }

    #[test]
    fn approximate_amounts_are_marked() {
        assert_eq!(Money { minor: 8_474, currency: "USD".into() }.display_approx(), "≈ $84.74");
    }

    #[test]
    fn rates_keep_four_significant_digits() {
        assert_eq!(format_rate(1.08), "1.08");
        assert_eq!(format_rate(0.0067), "0.0067");
        assert_eq!(format_rate(0.00073), "0.00073");
        assert_eq!(format_rate(1.0 / 0.0067), "149.3");
        assert_eq!(format_rate(1.0 / 1.08), "0.9259");
        assert_eq!(format_rate(1.0 / 0.00073), "1370");
        assert_eq!(format_rate(1.0), "1");
    }
}
