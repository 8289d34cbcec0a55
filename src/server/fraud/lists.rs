//! Typed lists for `in_list(name, value)`: emails, email domains, IPs and CIDR ranges, card
//! fingerprints, card BINs and countries. Entries are validated and normalised when added (bad
//! input is refused with a specific message), carry a reason, who added them, their source and an
//! optional expiry, and are looked up in memory: a hash set per list, plus the CIDR ranges of IP
//! lists grouped by prefix length, so an address is one lookup per length in use rather than a
//! scan of every range. Expired entries stop matching at once. (Persistence and refresh on change across
//! instances come with the list admin work of issue 4.)
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::rules::ListLookup;

pub use crate::app::dto::ListKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntry {
    pub value: String,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub added_by: String,
    /// Where it came from: "admin", "reviewer", "chargeback", "import", …
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("no list named {0:?}")]
    UnknownList(String),
    #[error("a list named {0:?} already exists")]
    DuplicateList(String),
    #[error("{value:?} is not a valid {kind}: {why}")]
    InvalidValue { kind: &'static str, value: String, why: &'static str },
    #[error("a reason is required")]
    MissingReason,
    #[error("the expiry is in the past")]
    ExpiredOnArrival,
}

impl ListKind {
    pub const ALL: [ListKind; 6] =
        [ListKind::Email, ListKind::EmailDomain, ListKind::Ip, ListKind::CardFingerprint, ListKind::CardBin, ListKind::Country];

    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Email => "email",
            ListKind::EmailDomain => "email_domain",
            ListKind::Ip => "ip",
            ListKind::CardFingerprint => "card_fingerprint",
            ListKind::CardBin => "card_bin",
            ListKind::Country => "country",
        }
    }

    pub fn parse(s: &str) -> Option<ListKind> {
        ListKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ListKind::Email => "email address",
            ListKind::EmailDomain => "email domain",
            ListKind::Ip => "IP address or CIDR range",
            ListKind::CardFingerprint => "card fingerprint",
            ListKind::CardBin => "card BIN",
            ListKind::Country => "country code",
        }
    }

    /// The canonical form of a value of this kind, or why it is not one.
    pub fn normalise(self, raw: &str) -> Result<String, ListError> {
        let value = raw.trim();
        let invalid = |why| ListError::InvalidValue { kind: self.label(), value: raw.to_string(), why };
        match self {
            ListKind::Email => {
                let value = value.to_ascii_lowercase();
                let (local, domain) = value.split_once('@').ok_or_else(|| invalid("it has no @"))?;
                if local.is_empty() || !is_domain(domain) || value.len() > 254 {
                    return Err(invalid("expected name@domain.tld"));
                }
                Ok(value)
            }
            ListKind::EmailDomain => {
                let value = value.trim_start_matches('@').to_ascii_lowercase();
                if !is_domain(&value) {
                    return Err(invalid("expected a domain such as mailinator.com"));
                }
                Ok(value)
            }
            ListKind::Ip => {
                if let Ok(ip) = IpAddr::from_str(value) {
                    return Ok(ip.to_string());
                }
                let net = IpNet::from_str(value).map_err(|_| invalid("expected an IPv4/IPv6 address or a CIDR range such as 10.0.0.0/8"))?;
                Ok(net.trunc().to_string())
            }
            ListKind::CardFingerprint => {
                if value.is_empty() || value.len() > 64 || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    return Err(invalid("expected up to 64 letters, digits, '-' or '_'"));
                }
                Ok(value.to_string())
            }
            ListKind::CardBin => {
                if !(6..=8).contains(&value.len()) || !value.chars().all(|c| c.is_ascii_digit()) {
                    return Err(invalid("expected the card number's first 6 to 8 digits"));
                }
                Ok(value.to_string())
            }
            ListKind::Country => {
                let value = value.to_ascii_uppercase();
                if value.len() != 2 || !value.chars().all(|c| c.is_ascii_uppercase()) {
                    return Err(invalid("expected an ISO 3166 alpha-2 code such as US"));
                }
                Ok(value)
            }
        }
    }
}

fn is_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[derive(Debug, Clone)]
struct List {
    kind: ListKind,
    /// Normalised value → its entry.
    exact: HashMap<String, ListEntry>,
    /// CIDR ranges of IP lists, by prefix length: the address, cut to each length, is a key.
    ranges: BTreeMap<u8, HashMap<IpNet, ListEntry>>,
}

/// Every list, in memory.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    lists: HashMap<String, List>,
}

impl Lists {
    pub fn create(&mut self, name: &str, kind: ListKind) -> Result<(), ListError> {
        if self.lists.contains_key(name) {
            return Err(ListError::DuplicateList(name.to_string()));
        }
        self.lists.insert(name.to_string(), List { kind, exact: HashMap::new(), ranges: BTreeMap::new() });
        Ok(())
    }

    /// Adds (or replaces) an entry after validating it; nothing changes on error.
    pub fn add(&mut self, name: &str, raw_value: &str, entry: ListEntry, now: DateTime<Utc>) -> Result<String, ListError> {
        let list = self.lists.get_mut(name).ok_or_else(|| ListError::UnknownList(name.to_string()))?;
        let value = list.kind.normalise(raw_value)?;
        if entry.reason.trim().is_empty() {
            return Err(ListError::MissingReason);
        }
        if entry.expires_at.is_some_and(|at| at <= now) {
            return Err(ListError::ExpiredOnArrival);
        }
        let entry = ListEntry { value: value.clone(), ..entry };
        match (list.kind, IpNet::from_str(&value)) {
            (ListKind::Ip, Ok(net)) => {
                list.ranges.entry(net.prefix_len()).or_default().insert(net, entry);
            }
            _ => {
                list.exact.insert(value.clone(), entry);
            }
        }
        Ok(value)
    }

    pub fn remove(&mut self, name: &str, raw_value: &str) -> Result<bool, ListError> {
        let list = self.lists.get_mut(name).ok_or_else(|| ListError::UnknownList(name.to_string()))?;
        let value = list.kind.normalise(raw_value)?;
        let removed = match (list.kind, IpNet::from_str(&value)) {
            (ListKind::Ip, Ok(net)) => {
                let same_length = list.ranges.get_mut(&net.prefix_len());
                let removed = same_length.and_then(|nets| nets.remove(&net)).is_some();
                list.ranges.retain(|_, nets| !nets.is_empty());
                removed
            }
            _ => list.exact.remove(&value).is_some(),
        };
        Ok(removed)
    }

    /// The live entry `value` matches in list `name` at `now`: exact, or inside a CIDR range.
    /// Values that are not valid for the list's kind simply do not match.
    pub fn find(&self, name: &str, value: &str, now: DateTime<Utc>) -> Option<&ListEntry> {
        let list = self.lists.get(name)?;
        let live = |entry: &&ListEntry| entry.expires_at.is_none_or(|at| at > now);
        let value = list.kind.normalise(value).ok()?;
        if let Some(entry) = list.exact.get(&value).filter(live) {
            return Some(entry);
        }
        let ip = IpAddr::from_str(&value).ok()?;
        // Most specific range first.
        list.ranges.iter().rev().find_map(|(length, nets)| {
            let network = IpNet::new(ip, *length).ok()?.trunc();
            nets.get(&network).filter(live)
        })
    }
}

impl ListLookup for Lists {
    fn contains(&self, list: &str, value: &str) -> bool {
        self.find(list, value, Utc::now()).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires_at: Option<DateTime<Utc>>) -> ListEntry {
        ListEntry { value: String::new(), reason: "chargeback".into(), expires_at, added_by: "ada@vetted.test".into(), source: "admin".into() }
    }

    #[test]
    fn values_are_validated_and_normalised() {
        assert_eq!(ListKind::Email.normalise(" Fraud@Example.COM ").unwrap(), "fraud@example.com");
        assert_eq!(ListKind::EmailDomain.normalise("@Mailinator.com").unwrap(), "mailinator.com");
        assert_eq!(ListKind::Ip.normalise("10.1.2.3/8").unwrap(), "10.0.0.0/8");
        assert_eq!(ListKind::Ip.normalise("2001:db8::1").unwrap(), "2001:db8::1");
        assert_eq!(ListKind::Country.normalise("ro").unwrap(), "RO");
        for (kind, bad) in [
            (ListKind::Email, "not-an-email"),
            (ListKind::Email, "a@localhost"),
            (ListKind::EmailDomain, "-bad-.com"),
            (ListKind::Ip, "10.0.0.0/33"),
            (ListKind::Ip, "example.com"),
            (ListKind::CardBin, "4242"),
            (ListKind::CardBin, "42424x"),
            (ListKind::Country, "ROU"),
            (ListKind::CardFingerprint, "has spaces"),
        ] {
            let err = kind.normalise(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?} is not a valid")), "{kind:?} {bad}: {err}");
        }
    }

    #[test]
    fn cidr_ranges_match_addresses_inside_them() {
        let now = Utc::now();
        let mut lists = Lists::default();
        lists.create("bad_ips", ListKind::Ip).unwrap();
        lists.add("bad_ips", "203.0.113.0/24", entry(None), now).unwrap();
        lists.add("bad_ips", "2001:db8::/32", entry(None), now).unwrap();
        lists.add("bad_ips", "198.51.100.7", entry(None), now).unwrap();
        assert!(lists.contains("bad_ips", "203.0.113.200"));
        assert!(lists.contains("bad_ips", "2001:db8:1::5"));
        assert!(lists.contains("bad_ips", "198.51.100.7"));
        assert!(!lists.contains("bad_ips", "203.0.114.1"));
        assert!(!lists.contains("bad_ips", "2001:db9::1"));
        assert!(!lists.contains("bad_ips", "not an ip"));
        // Ranges of another length, nested or not, and removal of one leaves the others.
        lists.add("bad_ips", "10.0.0.0/8", entry(None), now).unwrap();
        lists.add("bad_ips", "10.20.30.0/24", entry(None), now).unwrap();
        assert!(lists.contains("bad_ips", "10.20.30.40") && lists.contains("bad_ips", "10.99.0.1"));
        assert!(lists.remove("bad_ips", "10.0.0.0/8").unwrap());
        assert!(!lists.remove("bad_ips", "10.0.0.0/8").unwrap(), "already gone");
        assert!(lists.contains("bad_ips", "10.20.30.40") && !lists.contains("bad_ips", "10.99.0.1"));
        assert!(lists.remove("bad_ips", "203.0.113.9/24").unwrap(), "removal normalises the range too");
        assert!(!lists.contains("bad_ips", "203.0.113.200"));
        assert!(!lists.contains("no_such_list", "203.0.113.1"));
    }

    #[test]
    fn expired_entries_stop_matching() {
        let now = Utc::now();
        let mut lists = Lists::default();
        lists.create("blocked_emails", ListKind::Email).unwrap();
        lists.add("blocked_emails", "fraud@example.com", entry(Some(now + chrono::Duration::hours(1))), now).unwrap();
        assert!(lists.find("blocked_emails", "FRAUD@example.com", now).is_some());
        assert!(lists.find("blocked_emails", "fraud@example.com", now + chrono::Duration::hours(2)).is_none());
        assert_eq!(
            lists.add("blocked_emails", "x@example.com", entry(Some(now - chrono::Duration::seconds(1))), now),
            Err(ListError::ExpiredOnArrival)
        );

        lists.create("bad_ips", ListKind::Ip).unwrap();
        lists.add("bad_ips", "10.0.0.0/8", entry(None), now).unwrap();
        lists.add("bad_ips", "10.1.0.0/16", entry(Some(now + chrono::Duration::hours(1))), now).unwrap();
        assert_eq!(lists.find("bad_ips", "10.1.2.3", now).unwrap().value, "10.1.0.0/16", "the most specific range answers");
        let later = now + chrono::Duration::hours(2);
        assert_eq!(lists.find("bad_ips", "10.1.2.3", later).unwrap().value, "10.0.0.0/8", "an expired range steps aside for the live one around it");
    }

    #[test]
    fn bad_input_changes_nothing() {
        let now = Utc::now();
        let mut lists = Lists::default();
        lists.create("bins", ListKind::CardBin).unwrap();
        assert!(matches!(lists.add("bins", "12", entry(None), now), Err(ListError::InvalidValue { .. })));
        let no_reason = ListEntry { reason: " ".into(), ..entry(None) };
        assert_eq!(lists.add("bins", "424242", no_reason, now), Err(ListError::MissingReason));
        assert!(!lists.contains("bins", "424242"));
        assert_eq!(lists.add("nope", "424242", entry(None), now), Err(ListError::UnknownList("nope".into())));
        assert_eq!(lists.create("bins", ListKind::Country), Err(ListError::DuplicateList("bins".into())));
        assert_eq!(lists.remove("bins", "424242"), Ok(false));
    }

    #[test]
    fn rules_see_lists_through_in_list() {
        use super::super::rules::{Action, Facts, Rule, RuleEffect, RuleMode, Ruleset};
        let now = Utc::now();
        let mut lists = Lists::default();
        lists.create("risky_domains", ListKind::EmailDomain).unwrap();
        lists.add("risky_domains", "mailinator.com", entry(None), now).unwrap();
        let rule = Rule::new(
            "risky domain",
            "in_list('risky_domains', transaction.email_domain)",
            RuleEffect::Action(Action::Review),
            RuleMode::Live,
        )
        .unwrap();
        let ruleset = Ruleset::new(vec![rule], 50.0, 80.0);
        let mut facts = Facts::default();
        facts.transaction.email_domain = "mailinator.com".into();
        assert_eq!(ruleset.evaluate(&facts, std::sync::Arc::new(lists.clone())).action, Action::Review);
        facts.transaction.email_domain = "example.com".into();
        assert_eq!(ruleset.evaluate(&facts, std::sync::Arc::new(lists)).action, Action::Allow);
    }
}
