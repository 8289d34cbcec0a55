//! The client's address. Behind a reverse proxy every connection comes from the proxy, so with
//! `TRUSTED_PROXIES` set the address is read from `X-Forwarded-For` — but only as far as the
//! hops are trusted proxies: the right-most address that is not one of ours is the client (the
//! left part of the header is whatever the client chose to send).
use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Hops read from `X-Forwarded-For` at most (a header of thousands of entries buys nothing).
const MAX_FORWARDED_HOPS: usize = 32;

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Several X-Forwarded-For headers are one list, in order.
    let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).collect::<Vec<_>>();
    for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted(&ip) {
                    break;
                }
            }
            // A hop we cannot read: stop at the last address we could, a trusted proxy.
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().unwrap());
        }
        map
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, &headers(&["198.51.100.1"]), &[]), peer);
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(loopback, &headers(&["198.51.100.1"]), &[]), loopback);
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        let proxies = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        // The client sent a forged first entry; our proxies appended the real address.
        let got = client_ip(proxy, &headers(&["1.2.3.4, 198.51.100.7", "10.0.0.3"]), &proxies);
        assert_eq!(got, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let proxies = nets(&["10.0.0.0/8"]);
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(client_ip(peer, &headers(&["10.0.0.5"]), &proxies), peer);
    }

    #[test]
    fn garbage_or_missing_hops_leave_the_last_trusted_address() {
        let proxies = nets(&["10.0.0.0/8"]);
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(client_ip(proxy, &headers(&["not-an-ip"]), &proxies), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &proxies), proxy);
    }
}
