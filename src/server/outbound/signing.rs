//! Signing as Stripe does: each request carries `Vetted-Signature: t=<unix seconds>,v1=<hex>`,
//! where the hex is HMAC-SHA256 of `<t>.<body>` under the endpoint's secret. While a rotation's
//! 24 hours run, a second `v1=` is signed with the previous secret, so a receiver that still
//! holds the old one keeps verifying. A receiver refuses a timestamp older than its tolerance
//! (5 minutes in the README's recipe): a captured request cannot be replayed later.
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "Vetted-Signature";
/// How old a signature the recipe (and [`verify`]) accepts.
pub const TOLERANCE_SECS: i64 = 300;

fn hmac_hex(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The header's value for `body` sent at `timestamp` under each of `secrets` (current first).
pub fn header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut value = format!("t={timestamp}");
    for secret in secrets {
        value.push_str(",v1=");
        value.push_str(&hmac_hex(secret, timestamp, body));
    }
    value
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature is older than the tolerance")]
    TooOld,
    #[error("no signature matches")]
    Mismatch,
}

/// What a receiver does: the header names a recent time, and one `v1` is the HMAC of
/// `<t>.<body>` under `secret` (compared in constant time).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::TooOld);
    }
    let matches = signatures.iter().any(|signature| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_changed_byte_or_an_old_time_does_not() {
        let body = br#"{"id":"evt_1","type":"case.resolved"}"#;
        let header = header(&["whsec_new", "whsec_old"], 1_700_000_000, body);
        assert_eq!(verify("whsec_new", &header, body, 1_700_000_010), Ok(()));
        assert_eq!(verify("whsec_old", &header, body, 1_700_000_010), Ok(()), "the previous secret during a rotation");
        assert_eq!(verify("whsec_other", &header, body, 1_700_000_010), Err(SignatureError::Mismatch));
        let mut changed = body.to_vec();
        changed[5] ^= 1;
        assert_eq!(verify("whsec_new", &header, &changed, 1_700_000_010), Err(SignatureError::Mismatch));
        assert_eq!(verify("whsec_new", &header, body, 1_700_000_000 + TOLERANCE_SECS + 1), Err(SignatureError::TooOld));
        assert_eq!(verify("whsec_new", "v1=00", body, 1_700_000_000), Err(SignatureError::Malformed));
    }
}
