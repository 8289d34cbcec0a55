//! Where a webhook may go: `https://` to public addresses only. A URL whose host is, or resolves
//! to, a loopback, private, shared (CGNAT), link-local (the cloud metadata service at
//! 169.254.169.254 among them), unique-local, multicast or unspecified address is refused — at
//! registration and again before every delivery, whose connection is pinned to the address just
//! checked (a DNS answer that changes in between cannot redirect it). Development and tests may
//! allow `http://` to loopback (`WEBHOOKS_ALLOW_HTTP_LOOPBACK`).
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub const MAX_URL_CHARS: usize = 2048;
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("the URL is not valid")]
    Invalid,
    #[error("a URL is at most {MAX_URL_CHARS} characters")]
    TooLong,
    #[error("the URL must start with https://")]
    NotHttps,
    #[error("the URL may not carry a user name or password")]
    Credentials,
    #[error("could not resolve {host}")]
    Unresolved { host: String },
    #[error("{host} is {why}: webhooks go to public addresses only")]
    NotPublic { host: String, why: &'static str },
}

/// Why an address is not public, if it is not. Loopback passes when `allow_loopback`.
pub fn not_public(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    if ip.is_loopback() {
        return (!allow_loopback).then_some("a loopback address");
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4 == std::net::Ipv4Addr::new(169, 254, 169, 254) {
                Some("the cloud metadata address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if v4.is_private() {
                Some("a private address")
            } else if a == 100 && (64..128).contains(&b) {
                Some("a shared (carrier-grade NAT) address")
            } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || a == 0 || a >= 240 {
                Some("not a unicast address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if (first & 0xfe00) == 0xfc00 {
                Some("a unique-local address")
            } else if (first & 0xffc0) == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("not a unicast address")
            } else {
                None
            }
        }
    }
}

/// A registrable URL, checked for its form only (no lookup): `https://`, or `http://` when
/// loopback is allowed; no credentials.
pub fn parse(raw: &str, allow_http_loopback: bool) -> Result<reqwest::Url, UrlRefused> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(UrlRefused::TooLong);
    }
    let url = reqwest::Url::parse(raw).map_err(|_| UrlRefused::Invalid)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http_loopback => {}
        _ => return Err(UrlRefused::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlRefused::Invalid);
    }
    Ok(url)
}

/// The address to connect to for `url`: every address its host resolves to must be public (or
/// loopback, when allowed — and then `http://` only to loopback).
pub async fn resolve(url: &reqwest::Url, allow_http_loopback: bool) -> Result<SocketAddr, UrlRefused> {
    let host = url.host_str().ok_or(UrlRefused::Invalid)?.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = url.port_or_known_default().ok_or(UrlRefused::Invalid)?;
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.clone(), port))).await;
            match found {
                Ok(Ok(found)) => found.collect(),
                _ => return Err(UrlRefused::Unresolved { host }),
            }
        }
    };
    if addresses.is_empty() {
        return Err(UrlRefused::Unresolved { host });
    }
    for address in &addresses {
        if let Some(why) = not_public(address.ip(), allow_http_loopback) {
            return Err(UrlRefused::NotPublic { host, why });
        }
        if url.scheme() == "http" && !address.ip().is_loopback() {
            return Err(UrlRefused::NotHttps);
        }
    }
    Ok(addresses[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for (ip, why) in [
            ("127.0.0.1", "a loopback address"),
            ("::1", "a loopback address"),
            ("10.1.2.3", "a private address"),
            ("172.20.0.5", "a private address"),
            ("192.168.1.1", "a private address"),
            ("100.100.0.1", "a shared (carrier-grade NAT) address"),
            ("169.254.169.254", "the cloud metadata address"),
            ("169.254.10.10", "a link-local address"),
            ("::ffff:10.0.0.1", "a private address"),
            ("fd00:ec2::254", "a unique-local address"),
            ("fe80::1", "a link-local address"),
            ("0.0.0.0", "not a unicast address"),
            ("224.0.0.1", "not a unicast address"),
        ] {
            assert_eq!(not_public(ip.parse().unwrap(), false), Some(why), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "100.63.0.1", "172.32.0.1"] {
            assert_eq!(not_public(ip.parse().unwrap(), false), None, "{ip}");
        }
        assert_eq!(not_public("127.0.0.1".parse().unwrap(), true), None, "loopback when allowed");
        assert_eq!(not_public("10.0.0.1".parse().unwrap(), true), Some("a private address"), "private even then");
    }

    #[test]
    fn urls_are_https_without_credentials() {
        assert!(parse("https://hooks.example.com/vetted", false).is_ok());
        assert_eq!(parse("http://hooks.example.com/vetted", false), Err(UrlRefused::NotHttps));
        assert_eq!(parse("ftp://hooks.example.com/", true), Err(UrlRefused::NotHttps));
        assert_eq!(parse("https://user:pw@hooks.example.com/", false), Err(UrlRefused::Credentials));
        assert_eq!(parse("not a url", false), Err(UrlRefused::Invalid));
        let at_bound = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS - 20));
        assert_eq!(at_bound.chars().count(), MAX_URL_CHARS);
        assert!(parse(&at_bound, false).is_ok());
        assert_eq!(parse(&format!("{at_bound}a"), false), Err(UrlRefused::TooLong));
    }

    #[tokio::test]
    async fn hosts_are_resolved_and_checked() {
        let url = |s: &str| parse(s, true).unwrap();
        assert!(matches!(resolve(&url("https://169.254.169.254/latest"), false).await, Err(UrlRefused::NotPublic { why: "the cloud metadata address", .. })));
        assert!(matches!(resolve(&url("https://localhost:8443/"), false).await, Err(UrlRefused::NotPublic { why: "a loopback address", .. })));
        assert!(matches!(resolve(&url("https://[::1]/"), false).await, Err(UrlRefused::NotPublic { .. })));
        assert_eq!(resolve(&url("http://127.0.0.1:9/"), true).await, Ok("127.0.0.1:9".parse().unwrap()));
        assert_eq!(resolve(&url("http://93.184.216.34/"), true).await, Err(UrlRefused::NotHttps), "http only to loopback");
        assert!(matches!(resolve(&url("https://no-such-host.invalid/"), false).await, Err(UrlRefused::Unresolved { .. })));
    }
}
