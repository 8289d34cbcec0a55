//! Query values in links between the queue and the case page (the case page keeps the queue's
//! filters in `?from=`, so "next case" and "back" use them). Shared by the server and the browser.
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters is escaped.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// Reverses [`encode`], reading `+` as a space as HTML forms write it; a malformed escape is kept
/// as it is, and bytes that are not UTF-8 become U+FFFD.
pub fn decode(value: &str) -> String {
    percent_decode_str(&value.replace('+', " ")).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for value in ["", "plain", "a b&c=d/é%+", "status=open&rule=Disposable%20email"] {
            assert_eq!(decode(&encode(value)), value);
        }
        assert_eq!(decode("a+b%2"), "a b%2");
        assert_eq!(decode("%zz"), "%zz");
    }
}
