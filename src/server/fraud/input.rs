//! A transaction as the platform sends it, and its validation.
//!
//! The decoder reads the body as a JSON object and checks each field itself, so a bad request gets
//! every field error at once (`transactions[3].amount` in a batch) and never a 500. Each field's
//! bounds are constants here, and the OpenAPI document's schema of the field is built from the
//! same constants (the `*_schema` functions below): a request the document calls valid is one
//! the validator accepts, and the other way round. `tests/fraud_ingest.rs` checks both the
//! bounds, field by field, and the verdicts, on thousands of generated bodies.
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{Object, Ref};
use utoipa::ToSchema;

use super::currency;

/// `external_id`: 1 to 64 of `A-Z a-z 0-9 _ - : .`.
pub const EXTERNAL_ID_MAX_CHARS: usize = 64;
pub const EXTERNAL_ID_PATTERN: &str = "^[A-Za-z0-9_:.-]{1,64}$";
/// `merchant_id` and `product_id`: positive 32-bit integers.
pub const ID_MIN: i64 = 1;
pub const ID_MAX: i64 = i32::MAX as i64;
/// `amount`, in minor units: 1 to 10^12.
pub const AMOUNT_MIN: i64 = 1;
pub const AMOUNT_MAX: i64 = 1_000_000_000_000;
/// `buyer_email`: at most 254 characters in all, surrounding whitespace included (JSON Schema's
/// `maxLength` counts the raw string); otherwise the one address rule, [`crate::server::email`].
pub const EMAIL_MAX_CHARS: usize = crate::server::email::MAX_EMAIL_LEN;
/// `card_fingerprint`: 1 to 64 visible ASCII characters.
pub const CARD_FINGERPRINT_MAX_CHARS: usize = 64;
pub const CARD_FINGERPRINT_PATTERN: &str = "^[\\x21-\\x7E]{1,64}$";
/// `card_bin`: the card number's first 6 to 8 digits.
pub const CARD_BIN_MIN_DIGITS: usize = 6;
pub const CARD_BIN_MAX_DIGITS: usize = 8;
pub const CARD_BIN_PATTERN: &str = "^[0-9]{6,8}$";
/// `ip_country`, `card_country`: two letters, either case.
pub const COUNTRY_PATTERN: &str = "^[A-Za-z]{2}$";
/// Transactions in one batch.
pub const MAX_BATCH: usize = 1000;

/// A transaction as the platform sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionInput {
    /// The platform's id for the transaction; unique per merchant (PayPal's transaction id for a
    /// PayPal payment: disputes are tied to it).
    #[schema(schema_with = external_id_schema)]
    pub external_id: String,
    #[schema(schema_with = merchant_id_schema)]
    pub merchant_id: i32,
    /// In minor units of the currency (cents for USD, yen for JPY).
    #[schema(schema_with = amount_schema)]
    pub amount: i64,
    #[schema(schema_with = currency_schema)]
    pub currency: String,
    #[schema(schema_with = email_schema)]
    pub buyer_email: String,
    #[schema(schema_with = ip_schema)]
    pub buyer_ip: String,
    #[schema(schema_with = ip_country_schema)]
    pub ip_country: Option<String>,
    #[schema(schema_with = card_fingerprint_schema)]
    pub card_fingerprint: String,
    #[schema(schema_with = card_bin_schema)]
    pub card_bin: Option<String>,
    #[schema(schema_with = card_country_schema)]
    pub card_country: String,
    #[schema(schema_with = product_id_schema)]
    pub product_id: Option<i32>,
}

/// The body of `POST /api/v1/transactions/batch`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    #[schema(schema_with = batch_items_schema)]
    pub transactions: Vec<TransactionInput>,
}

/// A problem with one field of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The field's path: `amount`, or `transactions[3].amount` in a batch.
    pub field: String,
    pub message: String,
}

const FIELDS: &[&str] = &[
    "external_id",
    "merchant_id",
    "amount",
    "currency",
    "buyer_email",
    "buyer_ip",
    "ip_country",
    "card_fingerprint",
    "card_bin",
    "card_country",
    "product_id",
];

/// Decodes and validates one transaction; every problem is reported, with its field.
pub fn decode(body: &[u8]) -> Result<TransactionInput, Vec<FieldError>> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| vec![FieldError { field: String::new(), message: format!("the body is not valid JSON: {e}") }])?;
    validate(&value, "")
}

/// Decodes and validates a batch; every problem of every item is reported.
pub fn decode_batch(body: &[u8]) -> Result<Vec<TransactionInput>, Vec<FieldError>> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| vec![FieldError { field: String::new(), message: format!("the body is not valid JSON: {e}") }])?;
    let Value::Object(object) = value else {
        return Err(vec![FieldError { field: String::new(), message: "the body must be an object with a `transactions` array".into() }]);
    };
    let mut errors = Vec::new();
    for key in object.keys().filter(|k| *k != "transactions") {
        errors.push(FieldError { field: key.clone(), message: "unknown field".into() });
    }
    let items = match object.get("transactions") {
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push(FieldError { field: "transactions".into(), message: "must hold at least one transaction".into() });
            return Err(errors);
        }
        Some(Value::Array(items)) if items.len() > MAX_BATCH => {
            errors.push(FieldError { field: "transactions".into(), message: format!("holds {} transactions; the limit is {MAX_BATCH}", items.len()) });
            return Err(errors);
        }
        Some(Value::Array(items)) => items,
        _ => {
            errors.push(FieldError { field: "transactions".into(), message: "is required and must be an array".into() });
            return Err(errors);
        }
    };
    let mut decoded = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match validate(item, &format!("transactions[{index}].")) {
            Ok(input) => decoded.push(input),
            Err(mut item_errors) => errors.append(&mut item_errors),
        }
    }
    if errors.is_empty() {
        Ok(decoded)
    } else {
        Err(errors)
    }
}

fn validate(value: &Value, prefix: &str) -> Result<TransactionInput, Vec<FieldError>> {
    let Value::Object(object) = value else {
        return Err(vec![FieldError { field: prefix.trim_end_matches('.').to_string(), message: "must be a JSON object".into() }]);
    };
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: &str| errors.push(FieldError { field: format!("{prefix}{field}"), message: message.to_string() });
    for key in object.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        fail(key, "unknown field");
    }
    let external_id = text(object, "external_id", &mut fail, is_external_id, "must be 1 to 64 characters of A-Z, a-z, 0-9, _ - : .");
    let merchant_id = match object.get("merchant_id") {
        None | Some(Value::Null) => {
            fail("merchant_id", "is required");
            None
        }
        Some(v) => match whole_number(v, ID_MIN, ID_MAX) {
            Some(n) => Some(n as i32),
            None => {
                fail("merchant_id", "must be a positive integer");
                None
            }
        },
    };
    let amount = match object.get("amount") {
        None | Some(Value::Null) => {
            fail("amount", "is required");
            None
        }
        Some(v) => match whole_number(v, AMOUNT_MIN, AMOUNT_MAX) {
            Some(n) => Some(n),
            None => {
                fail("amount", "must be an integer number of minor units (cents) from 1 to 10^12");
                None
            }
        },
    };
    let currency = text(object, "currency", &mut fail, |s| currency::find(s).is_some(), "must be a supported ISO 4217 code (USD, EUR, GBP, …)")
        .and_then(|s| currency::find(&s).map(str::to_string));
    let buyer_email = text(object, "buyer_email", &mut fail, is_email, "must be an email address").map(|s| s.trim().to_ascii_lowercase());
    let buyer_ip = text(object, "buyer_ip", &mut fail, |s| IpAddr::from_str(s).is_ok(), "must be an IPv4 or IPv6 address")
        .and_then(|s| IpAddr::from_str(&s).ok().map(|ip| ip.to_string()));
    let ip_country = optional_text(object, "ip_country", &mut fail, is_country, "must be a two-letter ISO 3166-1 country code").map(|s| s.to_ascii_uppercase());
    let card_fingerprint = text(object, "card_fingerprint", &mut fail, is_card_fingerprint, "must be 1 to 64 visible ASCII characters");
    let card_bin = optional_text(object, "card_bin", &mut fail, is_card_bin, "must be the card's first 6 to 8 digits");
    let card_country = text(object, "card_country", &mut fail, is_country, "must be a two-letter ISO 3166-1 country code").map(|s| s.to_ascii_uppercase());
    let product_id = match object.get("product_id") {
        None | Some(Value::Null) => Some(None),
        Some(v) => match whole_number(v, ID_MIN, ID_MAX) {
            Some(n) => Some(Some(n as i32)),
            None => {
                fail("product_id", "must be a positive integer");
                None
            }
        },
    };
    match (external_id, merchant_id, amount, currency, buyer_email, buyer_ip, card_fingerprint, card_country, product_id) {
        (
            Some(external_id),
            Some(merchant_id),
            Some(amount),
            Some(currency),
            Some(buyer_email),
            Some(buyer_ip),
            Some(card_fingerprint),
            Some(card_country),
            Some(product_id),
        ) if errors.is_empty() => Ok(TransactionInput {
            external_id,
            merchant_id,
            amount,
            currency,
            buyer_email,
            buyer_ip,
            ip_country,
            card_fingerprint,
            card_bin,
            card_country,
            product_id,
        }),
        _ => Err(errors),
    }
}

fn text(object: &Map<String, Value>, field: &str, fail: &mut impl FnMut(&str, &str), ok: impl Fn(&str) -> bool, message: &str) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => {
            fail(field, "is required");
            None
        }
        Some(Value::String(s)) if ok(s) => Some(s.clone()),
        Some(_) => {
            fail(field, message);
            None
        }
    }
}

fn optional_text(object: &Map<String, Value>, field: &str, fail: &mut impl FnMut(&str, &str), ok: impl Fn(&str) -> bool, message: &str) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if ok(s) => Some(s.clone()),
        Some(_) => {
            fail(field, message);
            None
        }
    }
}

/// A whole number in `min..=max`. As JSON Schema's `integer`, a number with a zero fraction
/// (`1999.0`, `2e3`) is one.
fn whole_number(value: &Value, min: i64, max: i64) -> Option<i64> {
    let Value::Number(number) = value else { return None };
    let n = match number.as_i64() {
        Some(n) => n,
        None => number.as_f64().filter(|x| x.fract() == 0.0 && (min as f64..=max as f64).contains(x))? as i64,
    };
    (min..=max).contains(&n).then_some(n)
}

fn is_external_id(s: &str) -> bool {
    (1..=EXTERNAL_ID_MAX_CHARS).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-:.".contains(c))
}

fn is_card_fingerprint(s: &str) -> bool {
    (1..=CARD_FINGERPRINT_MAX_CHARS).contains(&s.len()) && s.chars().all(|c| c.is_ascii_graphic())
}

fn is_card_bin(s: &str) -> bool {
    (CARD_BIN_MIN_DIGITS..=CARD_BIN_MAX_DIGITS).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit())
}

/// An address as [`crate::server::email::is_valid`] has it, perhaps surrounded by whitespace
/// (trimmed), at most 254 characters with that whitespace.
fn is_email(s: &str) -> bool {
    s.chars().count() <= EMAIL_MAX_CHARS && crate::server::email::is_valid(s.trim())
}

fn is_country(s: &str) -> bool {
    s.len() == 2 && s.chars().all(|c| c.is_ascii_alphabetic())
}

/// The email's pattern: what [`is_email`] accepts.
pub fn email_pattern() -> &'static str {
    static PATTERN: OnceLock<String> = OnceLock::new();
    PATTERN.get_or_init(crate::server::email::pattern)
}

/// What Rust's `IpAddr::from_str` accepts: dotted IPv4 without leading zeros, and IPv6 with
/// 1–4 hex digits a group, at most one `::` (standing for one group or more) and an IPv4
/// address in the last 32 bits if wanted.
pub fn ip_pattern() -> &'static str {
    static PATTERN: OnceLock<String> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
        let v4 = format!("{octet}(?:\\.{octet}){{3}}");
        let group = "[0-9A-Fa-f]{1,4}";
        let mut v6 = vec![format!("(?:{group}:){{7}}{group}"), format!("(?:{group}:){{6}}{v4}")];
        for head in 0..=7 {
            let head_part = if head == 0 { String::new() } else { format!("(?:{group}:){{{}}}{group}", head - 1) };
            // `::` stands for one group at least: the tail holds up to 7 - head.
            let room = 7 - head;
            let mut tails = Vec::new();
            if room >= 1 {
                tails.push(format!("(?:{group}:){{0,{}}}{group}", room - 1));
            }
            if room >= 2 {
                tails.push(format!("(?:{group}:){{0,{}}}{v4}", room - 2));
            }
            let tail = if tails.is_empty() { String::new() } else { format!("(?:{})?", tails.join("|")) };
            v6.push(format!("{head_part}::{tail}"));
        }
        format!("^(?:{v4}|{})$", v6.join("|"))
    })
}

/// The supported currencies, either case (`usd` is read as `USD`).
pub fn currency_pattern() -> &'static str {
    static PATTERN: OnceLock<String> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let either_case = |code: &str| code.chars().map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())).collect::<String>();
        format!("^(?:{})$", currency::supported().map(either_case).collect::<Vec<_>>().join("|"))
    })
}

fn text_schema(description: &str, nullable: bool, min_chars: Option<usize>, max_chars: Option<usize>, pattern: &str, example: &str) -> Object {
    let ty: SchemaType = if nullable { [Type::String, Type::Null].into_iter().collect() } else { Type::String.into() };
    ObjectBuilder::new()
        .schema_type(ty)
        .description(Some(description))
        .min_length(min_chars)
        .max_length(max_chars)
        .pattern(Some(pattern))
        .examples([example])
        .build()
}

fn integer_schema(description: &str, nullable: bool, format: KnownFormat, min: i64, max: i64, example: i64) -> Object {
    let ty: SchemaType = if nullable { [Type::Integer, Type::Null].into_iter().collect() } else { Type::Integer.into() };
    ObjectBuilder::new()
        .schema_type(ty)
        .format(Some(SchemaFormat::KnownFormat(format)))
        .description(Some(description))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
        .examples([example])
        .build()
}

fn external_id_schema() -> Object {
    let description = "The platform's id for the transaction: 1–64 of `A-Z a-z 0-9 _ - : .`; unique per merchant. For a PayPal payment, send PayPal's transaction id: a PayPal dispute of the payment is then tied to it (backtests count an unauthorised-use dispute as fraud).";
    text_schema(description, false, Some(1), Some(EXTERNAL_ID_MAX_CHARS), EXTERNAL_ID_PATTERN, "ch_3PqX9a")
}

fn merchant_id_schema() -> Object {
    integer_schema("The merchant's id.", false, KnownFormat::Int32, ID_MIN, ID_MAX, 1)
}

fn amount_schema() -> Object {
    integer_schema("In minor units of the currency (cents for USD, yen for JPY): 1 to 10^12.", false, KnownFormat::Int64, AMOUNT_MIN, AMOUNT_MAX, 1999)
}

fn currency_schema() -> Object {
    let codes = currency::supported().collect::<Vec<_>>().join(", ");
    text_schema(&format!("ISO 4217, either case: one of {codes}."), false, Some(3), Some(3), currency_pattern(), "USD")
}

fn email_schema() -> Object {
    let description = "The buyer's email: `local@domain`, the local part 1–64 characters, the domain two or more labels of 1–63 characters \
                       separated by dots, none starting or ending with a hyphen; no `@`, whitespace or control characters in either \
                       (surrounding whitespace is trimmed). At most 254 characters. Sign-in and the email lists accept the same addresses.";
    text_schema(description, false, None, Some(EMAIL_MAX_CHARS), email_pattern(), "buyer@example.com")
}

fn ip_schema() -> Object {
    text_schema("The buyer's IPv4 or IPv6 address.", false, None, None, ip_pattern(), "198.51.100.7")
}

fn ip_country_schema() -> Object {
    text_schema("ISO 3166-1 alpha-2 country of the IP, when the platform knows it (either case).", true, Some(2), Some(2), COUNTRY_PATTERN, "US")
}

fn card_fingerprint_schema() -> Object {
    let description = "The card's stable fingerprint from the processor: 1–64 visible ASCII characters.";
    text_schema(description, false, Some(1), Some(CARD_FINGERPRINT_MAX_CHARS), CARD_FINGERPRINT_PATTERN, "fp_1MqL2x")
}

fn card_bin_schema() -> Object {
    text_schema("The first 6 to 8 digits of the card number.", true, Some(CARD_BIN_MIN_DIGITS), Some(CARD_BIN_MAX_DIGITS), CARD_BIN_PATTERN, "424242")
}

fn card_country_schema() -> Object {
    text_schema("ISO 3166-1 alpha-2 country that issued the card (either case).", false, Some(2), Some(2), COUNTRY_PATTERN, "US")
}

fn product_id_schema() -> Object {
    integer_schema("One of the merchant's products, if the sale is of one.", true, KnownFormat::Int32, ID_MIN, ID_MAX, 1)
}

fn batch_items_schema() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(Ref::from_schema_name("TransactionInput"))
        .description(Some(format!("1 to {MAX_BATCH} transactions.")))
        .min_items(Some(1))
        .max_items(Some(MAX_BATCH))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Value {
        serde_json::json!({
            "external_id": "ch_1", "merchant_id": 1, "amount": 1999, "currency": "usd",
            "buyer_email": "Buyer@Example.com", "buyer_ip": "198.51.100.7", "ip_country": "us",
            "card_fingerprint": "fp_1", "card_bin": "424242", "card_country": "US"
        })
    }

    #[test]
    fn a_valid_transaction_is_decoded_and_normalised() {
        let input = decode(valid().to_string().as_bytes()).unwrap();
        assert_eq!(input.currency, "USD");
        assert_eq!(input.buyer_email, "buyer@example.com");
        assert_eq!(input.ip_country.as_deref(), Some("US"));
        assert_eq!(input.product_id, None);
    }

    #[test]
    fn every_bad_field_is_reported_with_its_name() {
        let mut body = valid();
        body["amount"] = serde_json::json!(-5);
        body["currency"] = serde_json::json!("XXX");
        body["buyer_email"] = serde_json::json!("not-an-email");
        body["surprise"] = serde_json::json!(true);
        body.as_object_mut().unwrap().remove("card_country");
        let errors = decode(body.to_string().as_bytes()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for expected in ["amount", "currency", "buyer_email", "surprise", "card_country"] {
            assert!(fields.contains(&expected), "{expected} missing from {errors:?}");
        }
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn batch_errors_name_the_item() {
        let mut bad = valid();
        bad["buyer_ip"] = serde_json::json!("999.1.1.1");
        let body = serde_json::json!({ "transactions": [valid(), bad] });
        let errors = decode_batch(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(errors, vec![FieldError { field: "transactions[1].buyer_ip".into(), message: "must be an IPv4 or IPv6 address".into() }]);
        let too_many = serde_json::json!({ "transactions": vec![valid(); MAX_BATCH + 1] });
        assert_eq!(decode_batch(too_many.to_string().as_bytes()).unwrap_err()[0].field, "transactions");
    }

    #[test]
    fn whole_numbers_are_integers_as_json_schema_counts_them() {
        for (value, expected) in [
            (serde_json::json!(1999), Some(1999)),
            (serde_json::json!(1999.0), Some(1999)),
            (serde_json::json!(2e3), Some(2000)),
            (serde_json::json!(12.5), None),
            (serde_json::json!(0), None),
            (serde_json::json!(-0.0), None),
            (serde_json::json!(1e300), None),
            (serde_json::json!(u64::MAX), None),
            (serde_json::json!("12"), None),
        ] {
            assert_eq!(whole_number(&value, AMOUNT_MIN, AMOUNT_MAX), expected, "{value}");
        }
    }

    /// Property: whatever the bytes, the decoder answers (a transaction or field errors) without
    /// panicking; a decoded transaction re-encodes to something that decodes to itself.
    #[test]
    fn the_decoder_never_panics_and_round_trips() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let pieces: Vec<Value> = vec![
            serde_json::json!(null),
            serde_json::json!(0),
            serde_json::json!(-1),
            serde_json::json!(1e300),
            serde_json::json!(i64::MAX),
            serde_json::json!(""),
            serde_json::json!("x"),
            serde_json::json!("é@ü.de"),
            serde_json::json!("::1"),
            serde_json::json!("USD"),
            serde_json::json!([1, 2]),
            serde_json::json!({"a": 1}),
            serde_json::json!(true),
            serde_json::json!("1.2.3.4"),
            serde_json::json!("a".repeat(300)),
        ];
        let base = valid();
        let keys: Vec<String> = base.as_object().unwrap().keys().cloned().chain(["extra".to_string()]).collect();
        let mut accepted = 0;
        for _ in 0..5_000 {
            let mut body = base.clone();
            for _ in 0..rng.random_range(0..4) {
                let key = &keys[rng.random_range(0..keys.len())];
                if rng.random_bool(0.2) {
                    body.as_object_mut().unwrap().remove(key);
                } else {
                    body[key] = pieces[rng.random_range(0..pieces.len())].clone();
                }
            }
            let mut bytes = body.to_string().into_bytes();
            if rng.random_bool(0.2) && !bytes.is_empty() {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            if let Ok(input) = decode(&bytes) {
                accepted += 1;
                let again = decode(&serde_json::to_vec(&input).unwrap()).expect("a decoded transaction re-decodes");
                assert_eq!(again, input);
            }
        }
        assert!(accepted > 100, "the generator should also produce valid input ({accepted})");
    }
}
