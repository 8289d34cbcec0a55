//! The one email-address check: sign-in, user creation, the ingest API's buyer email and the
//! email lists all accept the same addresses.

/// RFC 5321's limit on a forward path, in characters (as JSON Schema's `maxLength` counts).
pub const MAX_EMAIL_LEN: usize = 254;
/// RFC 5321's limit on the part before the `@`, in characters.
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// RFC 1035's limit on one label of a domain, in characters.
pub const MAX_LABEL_LEN: usize = 63;

/// Whitespace (`char::is_whitespace`) and control characters (`char::is_control`) as a regular
/// expression class: never inside an address.
const SPACE_OR_CONTROL_CLASS: &str = "\\x00-\\x20\\x7F-\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

/// `local@domain`: the local part 1 to 64 characters, the domain as [`is_domain`]; neither holds
/// `@`, whitespace or a control character; at most 254 characters in all. International
/// addresses pass; deliverability is not checked. Callers trim and lowercase first ([`normalize`]).
pub fn is_valid(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else { return false };
    address.chars().count() <= MAX_EMAIL_LEN && (1..=MAX_LOCAL_PART_LEN).contains(&local.chars().count()) && local.chars().all(plain) && is_domain(domain)
}

/// `domain.tld`: two or more dot-separated labels of 1 to 63 characters, none holding `@`,
/// whitespace or a control character, none starting or ending with a hyphen.
pub fn is_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain
            .split('.')
            .all(|label| (1..=MAX_LABEL_LEN).contains(&label.chars().count()) && !label.starts_with('-') && !label.ends_with('-') && label.chars().all(plain))
}

fn plain(c: char) -> bool {
    !(c == '@' || c.is_whitespace() || c.is_control())
}

/// What [`is_valid`] accepts, as a regular expression for an OpenAPI document, allowing the
/// surrounding whitespace that [`normalize`] trims. The 254-character bound is `maxLength`'s.
pub fn pattern() -> String {
    let space = "\\t\\n\\x0B\\x0C\\r\\x20\\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
    let inner = format!("[^.@{SPACE_OR_CONTROL_CLASS}]");
    let edge = format!("[^-.@{SPACE_OR_CONTROL_CLASS}]");
    let label = format!("{edge}(?:{inner}{{0,{}}}{edge})?", MAX_LABEL_LEN - 2);
    format!("^[{space}]*[^@{SPACE_OR_CONTROL_CLASS}]{{1,{MAX_LOCAL_PART_LEN}}}@{label}(?:\\.{label})+[{space}]*$")
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
