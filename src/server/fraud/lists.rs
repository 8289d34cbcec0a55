//! Typed lists for `in_list(name, value)`: emails, email domains, IPs and CIDR ranges, card
//! fingerprints, card BINs and countries. Entries are validated and normalised when added (bad
//! input is refused with a specific message), carry a reason, who added them, their source and an
//! optional expiry, and are looked up in memory: a hash set per list; an IP list's addresses and
//! CIDR ranges grouped by prefix length (an address is a range of one), so an address is one
//! lookup per length in use rather than a scan of every range. Expired entries stop matching at
//! once. An entry may be scoped to one merchant (a buyer a reviewer trusted at that merchant after
//! a false positive): it matches only that merchant's transactions. Persistence is `list_store`;
//! every instance reloads on change (`engine::spawn_refresher`).
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
    /// Where it came from: "admin", "case:42", "chargeback", "import", …
    pub source: String,
    /// Only this merchant's transactions match it; None: every merchant's.
    #[serde(default)]
    pub merchant_id: Option<i32>,
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
    #[error("an entry for one merchant must be an exact value: IP lists hold ranges")]
    ScopedRange,
}

impl ListKind {
    pub const ALL: [ListKind; 6] = [ListKind::Email, ListKind::EmailDomain, ListKind::Ip, ListKind::CardFingerprint, ListKind::CardBin, ListKind::Country];

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
                let value = crate::server::email::normalize(value);
                if !value.contains('@') {
                    return Err(invalid("it has no @"));
                }
                if !crate::server::email::is_valid(&value) {
                    return Err(invalid("expected name@domain.tld, at most 254 characters"));
                }
                Ok(value)
            }
            ListKind::EmailDomain => {
                let value = value.trim_start_matches('@').to_ascii_lowercase();
                if !crate::server::email::is_domain(&value) {
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

#[derive(Debug, Clone)]
struct List {
    kind: ListKind,
    /// Normalised value → its entry; every kind but IP.
    exact: HashMap<String, ListEntry>,
    /// An IP list's entries, by prefix length (an address is the range of itself): the address
    /// looked up, cut to each length, is a key.
    ranges: BTreeMap<u8, HashMap<IpNet, ListEntry>>,
    /// Entries for one merchant: merchant → normalised value → entry; every kind but IP. Keyed
    /// merchant first so that a lookup borrows the value instead of building a key.
    scoped: HashMap<i32, HashMap<String, ListEntry>>,
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
        self.lists.insert(name.to_string(), List { kind, exact: HashMap::new(), ranges: BTreeMap::new(), scoped: HashMap::new() });
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
        if let Some(merchant_id) = entry.merchant_id {
            if list.kind == ListKind::Ip {
                return Err(ListError::ScopedRange);
            }
            list.scoped.entry(merchant_id).or_default().insert(value.clone(), entry);
            return Ok(value);
        }
        match ip_range(list.kind, &value) {
            Some(net) => {
                list.ranges.entry(net.prefix_len()).or_default().insert(net, entry);
            }
            None => {
                list.exact.insert(value.clone(), entry);
            }
        }
        Ok(value)
    }

    /// Removes the entry for every merchant (`merchant_id` None) or the one for that merchant.
    pub fn remove(&mut self, name: &str, raw_value: &str, merchant_id: Option<i32>) -> Result<bool, ListError> {
        let list = self.lists.get_mut(name).ok_or_else(|| ListError::UnknownList(name.to_string()))?;
        let value = list.kind.normalise(raw_value)?;
        if let Some(merchant_id) = merchant_id {
            let Some(entries) = list.scoped.get_mut(&merchant_id) else { return Ok(false) };
            let removed = entries.remove(&value).is_some();
            if entries.is_empty() {
                list.scoped.remove(&merchant_id);
            }
            return Ok(removed);
        }
        let removed = match ip_range(list.kind, &value) {
            Some(net) => {
                let same_length = list.ranges.get_mut(&net.prefix_len());
                let removed = same_length.and_then(|nets| nets.remove(&net)).is_some();
                list.ranges.retain(|_, nets| !nets.is_empty());
                removed
            }
            None => list.exact.remove(&value).is_some(),
        };
        Ok(removed)
    }

    /// The live entry `value` matches in list `name` at `now`: exact, or inside a CIDR range.
    /// Values that are not valid for the list's kind simply do not match.
    ///
    /// Rules call this for every transaction, so the value is not validated as entries are (it
    /// matches no entry if it is not of the kind) and is copied only when its case is not the
    /// list's: the entry it finds is the one `normalise` would have led to.
    ///
    /// `merchant_id` is the transaction's merchant: its own entries match too.
    pub fn find(&self, name: &str, value: &str, merchant_id: Option<i32>, now: DateTime<Utc>) -> Option<&ListEntry> {
        self.find_where(name, value, merchant_id, |entry| entry.expires_at.is_none_or(|at| at > now))
    }

    /// [`Lists::find`] among the entries `live` accepts: the most specific one (everyone's exact
    /// entry, then the merchant's own; the narrowest IP range).
    fn find_where(&self, name: &str, value: &str, merchant_id: Option<i32>, live: impl Fn(&ListEntry) -> bool) -> Option<&ListEntry> {
        let list = self.lists.get(name)?;
        let value = value.trim();
        if list.kind != ListKind::Ip {
            let folded = list.kind.case_folded(value);
            let everyone = list.exact.get(folded.as_ref()).filter(|entry| live(entry));
            if everyone.is_some() || list.scoped.is_empty() {
                return everyone;
            }
            return merchant_id.and_then(|m| list.scoped.get(&m)).and_then(|entries| entries.get(folded.as_ref())).filter(|entry| live(entry));
        }
        let ip = IpAddr::from_str(value).ok()?;
        // Most specific first: the address itself, then the narrowest range around it.
        list.ranges.iter().rev().find_map(|(length, nets)| {
            let network = IpNet::new(ip, *length).ok()?.trunc();
            nets.get(&network).filter(|entry| live(entry))
        })
    }
}

/// When one entry was in a list: from its creation until it was removed or expired.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

/// Every list as it was at any moment, rebuilt from every entry ever added (removals are soft,
/// and an update is a removal and an addition): a backtest asks `in_list` as of each decision's
/// time, so a list entry added since does not match an old payment, and one removed since still
/// does.
#[derive(Debug, Default)]
pub struct ListHistory {
    /// Every value ever listed, one entry per (list, value, scope); its spans say when.
    lists: Lists,
    spans: HashMap<(String, String, Option<i32>), Vec<Span>>,
}

impl ListHistory {
    pub fn create(&mut self, name: &str, kind: ListKind) {
        let _ = self.lists.create(name, kind);
    }

    /// Records that a stored (already normalised) value was in `list` over `span`.
    pub fn add(&mut self, list: &str, value: &str, merchant_id: Option<i32>, span: Span) {
        let Some(kind) = self.lists.lists.get(list).map(|l| l.kind) else { return };
        let entry =
            ListEntry { value: value.to_string(), reason: "history".into(), expires_at: None, added_by: String::new(), source: String::new(), merchant_id };
        if kind == ListKind::Ip && merchant_id.is_some() {
            return;
        }
        // Far in the past: the entry's own expiry is in its span.
        if self.lists.add(list, value, entry, DateTime::<Utc>::MIN_UTC).is_ok() {
            self.spans.entry((list.to_string(), value.to_string(), merchant_id)).or_default().push(span);
        }
    }

    fn listed_at(&self, list: &str, entry: &ListEntry, at: DateTime<Utc>) -> bool {
        let key = (list.to_string(), entry.value.clone(), entry.merchant_id);
        self.spans.get(&key).is_some_and(|spans| spans.iter().any(|span| span.from <= at && span.until.is_none_or(|until| at < until)))
    }
}

impl ListLookup for ListHistory {
    fn contains(&self, list: &str, value: &str, merchant_id: i32, at: DateTime<Utc>) -> bool {
        self.lists.find_where(list, value, Some(merchant_id), |entry| self.listed_at(list, entry, at)).is_some()
    }
}

/// An IP list's entry as the range it covers: an address is the range of just itself. None for
/// the other kinds.
fn ip_range(kind: ListKind, normalised: &str) -> Option<IpNet> {
    if kind != ListKind::Ip {
        return None;
    }
    IpNet::from_str(normalised).ok().or_else(|| IpAddr::from_str(normalised).ok().map(IpNet::from))
}

impl ListKind {
    /// A trimmed value in the case `normalise` gives this kind; borrowed when it has it already.
    fn case_folded(self, value: &str) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            ListKind::Email => lowercase(value),
            ListKind::EmailDomain => lowercase(value.trim_start_matches('@')),
            ListKind::Country if value.bytes().any(|b| b.is_ascii_lowercase()) => Cow::Owned(value.to_ascii_uppercase()),
            _ => Cow::Borrowed(value),
        }
    }
}

fn lowercase(value: &str) -> std::borrow::Cow<'_, str> {
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(value.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

impl ListLookup for Lists {
    fn contains(&self, list: &str, value: &str, merchant_id: i32, now: DateTime<Utc>) -> bool {
        self.find(list, value, Some(merchant_id), now).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires_at: Option<DateTime<Utc>>) -> ListEntry {
        ListEntry {
            value: String::new(),
            reason: "chargeback".into(),
            expires_at,
            added_by: "ada@vetted.test".into(),
            source: "admin".into(),
            merchant_id: None,
        }
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

    fn has(lists: &Lists, name: &str, value: &str) -> bool {
        lists.contains(name, value, 1, Utc::now())
    }

    /// Lookups skip validation, yet find what `normalise` would have: case, spaces, a leading
    /// `@`, an address's other spellings; and values of another kind find nothing.
    #[test]
    fn lookups_find_the_entry_normalise_leads_to() {
        let now = Utc::now();
        let mut lists = Lists::default();
        for (name, kind, value) in [
            ("emails", ListKind::Email, "fraud@example.com"),
            ("domains", ListKind::EmailDomain, "mailinator.com"),
            ("countries", ListKind::Country, "RO"),
            ("bins", ListKind::CardBin, "424242"),
            ("cards", ListKind::CardFingerprint, "fp_Ab-1"),
            ("ips", ListKind::Ip, "2001:db8::1"),
            ("ips", ListKind::Ip, "198.51.100.7"),
        ] {
            let _ = lists.create(name, kind);
            lists.add(name, value, entry(None), now).unwrap();
        }
        for (name, raw) in [
            ("emails", " Fraud@Example.COM "),
            ("domains", "@MAILINATOR.com"),
            ("countries", "ro"),
            ("bins", " 424242"),
            ("cards", "fp_Ab-1"),
            ("ips", "2001:0db8:0:0::1"),
            ("ips", " 198.51.100.7 "),
        ] {
            let normalised = lists.lists[name].kind.normalise(raw).unwrap();
            assert_eq!(lists.find(name, raw, None, now).map(|e| e.value.as_str()), Some(normalised.as_str()), "{name}: {raw:?}");
        }
        for (name, raw) in [("emails", "fraud"), ("cards", "FP_AB-1"), ("ips", "198.51.100.7/32x"), ("ips", "198.51.100.0/24"), ("countries", "rou")] {
            assert!(lists.find(name, raw, None, now).is_none(), "{name}: {raw:?}");
        }
        // An address and the range of just that address are the same entry.
        lists.add("ips", "198.51.100.7/32", entry(None), now).unwrap();
        assert!(lists.remove("ips", "198.51.100.7", None).unwrap());
        assert!(!has(&lists, "ips", "198.51.100.7"));
    }

    #[test]
    fn cidr_ranges_match_addresses_inside_them() {
        let now = Utc::now();
        let mut lists = Lists::default();
        lists.create("bad_ips", ListKind::Ip).unwrap();
        lists.add("bad_ips", "203.0.113.0/24", entry(None), now).unwrap();
        lists.add("bad_ips", "2001:db8::/32", entry(None), now).unwrap();
        lists.add("bad_ips", "198.51.100.7", entry(None), now).unwrap();
        assert!(has(&lists, "bad_ips", "203.0.113.200"));
        assert!(has(&lists, "bad_ips", "2001:db8:1::5"));
        assert!(has(&lists, "bad_ips", "198.51.100.7"));
        assert!(!has(&lists, "bad_ips", "203.0.114.1"));
        assert!(!has(&lists, "bad_ips", "2001:db9::1"));
        assert!(!has(&lists, "bad_ips", "not an ip"));
        // Ranges of another length, nested or not, and removal of one leaves the others.
        lists.add("bad_ips", "10.0.0.0/8", entry(None), now).unwrap();
        lists.add("bad_ips", "10.20.30.0/24", entry(None), now).unwrap();
        assert!(has(&lists, "bad_ips", "10.20.30.40") && has(&lists, "bad_ips", "10.99.0.1"));
        assert!(lists.remove("bad_ips", "10.0.0.0/8", None).unwrap());
        assert!(!lists.remove("bad_ips", "10.0.0.0/8", None).unwrap(), "already gone");
        assert!(has(&lists, "bad_ips", "10.20.30.40") && !has(&lists, "bad_ips", "10.99.0.1"));
        assert!(lists.remove("bad_ips", "203.0.113.9/24", None).unwrap(), "removal normalises the range too");
        assert!(!has(&lists, "bad_ips", "203.0.113.200"));
        assert!(!has(&lists, "no_such_list", "203.0.113.1"));
    }

    #[test]
    fn expired_entries_stop_matching() {
        let now = Utc::now();
        let mut lists = Lists::default();
        lists.create("blocked_emails", ListKind::Email).unwrap();
        lists.add("blocked_emails", "fraud@example.com", entry(Some(now + chrono::Duration::hours(1))), now).unwrap();
        assert!(lists.find("blocked_emails", "FRAUD@example.com", None, now).is_some());
        assert!(lists.find("blocked_emails", "fraud@example.com", None, now + chrono::Duration::hours(2)).is_none());
        assert_eq!(lists.add("blocked_emails", "x@example.com", entry(Some(now - chrono::Duration::seconds(1))), now), Err(ListError::ExpiredOnArrival));

        lists.create("bad_ips", ListKind::Ip).unwrap();
        lists.add("bad_ips", "10.0.0.0/8", entry(None), now).unwrap();
        lists.add("bad_ips", "10.1.0.0/16", entry(Some(now + chrono::Duration::hours(1))), now).unwrap();
        assert_eq!(lists.find("bad_ips", "10.1.2.3", None, now).unwrap().value, "10.1.0.0/16", "the most specific range answers");
        let later = now + chrono::Duration::hours(2);
        assert_eq!(lists.find("bad_ips", "10.1.2.3", None, later).unwrap().value, "10.0.0.0/8", "an expired range steps aside for the live one around it");
    }

    #[test]
    fn bad_input_changes_nothing() {
        let now = Utc::now();
        let mut lists = Lists::default();
        lists.create("bins", ListKind::CardBin).unwrap();
        assert!(matches!(lists.add("bins", "12", entry(None), now), Err(ListError::InvalidValue { .. })));
        let no_reason = ListEntry { reason: " ".into(), ..entry(None) };
        assert_eq!(lists.add("bins", "424242", no_reason, now), Err(ListError::MissingReason));
        assert!(!has(&lists, "bins", "424242"));
        assert_eq!(lists.add("nope", "424242", entry(None), now), Err(ListError::UnknownList("nope".into())));
        assert_eq!(lists.create("bins", ListKind::Country), Err(ListError::DuplicateList("bins".into())));
        assert_eq!(lists.remove("bins", "424242", None), Ok(false));
    }

    #[test]
    fn rules_see_lists_through_in_list() {
        use super::super::rules::{Action, Facts, Rule, RuleEffect, RuleMode, Ruleset};
        let now = Utc::now();
        let mut lists = Lists::default();
        lists.create("risky_domains", ListKind::EmailDomain).unwrap();
        lists.add("risky_domains", "mailinator.com", entry(None), now).unwrap();
        let rule = Rule::new("risky domain", "in_list('risky_domains', transaction.email_domain)", RuleEffect::Action(Action::Review), RuleMode::Live).unwrap();
        let ruleset = Ruleset::new(vec![rule], 50.0, 80.0);
        let mut facts = Facts::default();
        facts.transaction.email_domain = "mailinator.com".into();
        assert_eq!(ruleset.evaluate(&facts, std::sync::Arc::new(lists.clone())).action, Action::Review);
        facts.transaction.email_domain = "example.com".into();
        assert_eq!(ruleset.evaluate(&facts, std::sync::Arc::new(lists)).action, Action::Allow);
    }

    #[test]
    fn an_entry_for_one_merchant_matches_only_that_merchants_transactions() {
        let now = Utc::now();
        let mut lists = Lists::default();
        lists.create("trusted_emails", ListKind::Email).unwrap();
        let trusted_at_7 = ListEntry { merchant_id: Some(7), source: "case:42".into(), ..entry(Some(now + chrono::Duration::days(90))) };
        lists.add("trusted_emails", "Good@Example.com", trusted_at_7.clone(), now).unwrap();
        assert_eq!(lists.find("trusted_emails", "good@example.com", Some(7), now).map(|e| e.source.as_str()), Some("case:42"));
        assert!(lists.find("trusted_emails", "good@example.com", Some(8), now).is_none(), "another merchant's buyer is not trusted");
        assert!(lists.find("trusted_emails", "good@example.com", None, now).is_none());
        assert!(lists.find("trusted_emails", "good@example.com", Some(7), now + chrono::Duration::days(91)).is_none(), "trust expires");
        // An entry for everyone and one for a merchant live side by side; removal names which.
        lists.add("trusted_emails", "good@example.com", entry(None), now).unwrap();
        assert!(lists.remove("trusted_emails", "good@example.com", None).unwrap());
        assert!(lists.find("trusted_emails", "good@example.com", Some(7), now).is_some());
        assert!(lists.remove("trusted_emails", "good@example.com", Some(7)).unwrap());
        assert!(lists.find("trusted_emails", "good@example.com", Some(7), now).is_none());
        lists.create("ips", ListKind::Ip).unwrap();
        assert_eq!(lists.add("ips", "10.0.0.1", trusted_at_7, now), Err(ListError::ScopedRange));
    }
}
