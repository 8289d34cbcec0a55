//! The one email-address check: sign-in, user creation, the ingest API's buyer email and the
//! email lists all accept the same addresses.

/// RFC 5321's limit on a forward path.
pub const MAX_EMAIL_LEN: usize = 254;
/// RFC 5321's limit on the part before the `@`.
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// `name@domain.tld`: one `@`, a local part of 1 to 64 characters, a domain of dot-separated
/// labels of letters, digits and hyphens (not at a label's ends), no spaces or control characters,
/// at most 254 characters. Deliverability is not checked.
pub fn is_valid(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else { return false };
    address.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && local.len() <= MAX_LOCAL_PART_LEN
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
        && is_domain(domain)
}

/// `domain.tld`: at least two labels, each 1 to 63 letters, digits or hyphens, not starting or
/// ending with a hyphen.
pub fn is_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty() && label.len() <= 63 && !label.starts_with('-') && !label.ends_with('-') && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// The form addresses are stored and compared in.
pub fn normalize(address: &str) -> String {
    address.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in ["a@example.com", "first.last+tag@mail.example.co.uk", "x@xn--bcher-kva.example", "ünï@exämple.de"] {
            assert!(is_valid(ok), "{ok}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let too_long = format!("a@{}.com", "b".repeat(250));
        for bad in
            ["", "a", "@example.com", "a@", "a@b", "a@@b.com", "a@b@c.com", "a b@c.com", "a@b .com", "a@.com", "a@b..com", "a@-b.com", "a@b-.com", "a\n@b.com"]
        {
            assert!(!is_valid(bad), "{bad:?}");
        }
        assert!(!is_valid(&long_local));
        assert!(!is_valid(&too_long));
    }

    #[test]
    fn the_length_bounds_are_inclusive() {
        let local = "a".repeat(MAX_LOCAL_PART_LEN);
        assert!(is_valid(&format!("{local}@example.com")));
        // "a@" + three 63-character labels + a 56-character one + ".com" = 254.
        let domain = format!("{}.{}.{}.{}.com", "b".repeat(63), "c".repeat(63), "d".repeat(63), "e".repeat(56));
        let at_limit = format!("a@{domain}");
        assert_eq!(at_limit.len(), MAX_EMAIL_LEN);
        assert!(is_valid(&at_limit));
        assert!(!is_valid(&format!("aa@{domain}")));
    }
}
