//! Word lists and small generators for realistic-looking demo data.
use chrono::{DateTime, Duration, Utc};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::app::dto::RiskState;

const ADJECTIVES: &[&str] = &[
    "Quiet", "Bright", "Northern", "Golden", "Little", "Wild", "Blue", "Honest", "Modern", "Lucky", "Brave", "Paper", "Silver", "Hidden", "Open", "Happy",
    "Gentle", "Rapid", "Humble", "Electric",
];
const NOUNS: &[&str] = &[
    "Fox", "Harbor", "Pixel", "Sparrow", "Maple", "Atlas", "Otter", "Lantern", "Canvas", "Orbit", "Cedar", "Comet", "Falcon", "Meadow", "Anchor", "Circuit",
    "Willow", "Summit", "Pebble", "Signal",
];
const KINDS: &[&str] = &["Press", "Studio", "Labs", "Supply", "Academy", "Audio", "Type", "Games", "Design", "Books"];
const PRODUCT_KINDS: &[&str] = &[
    "Field Guide",
    "Masterclass",
    "Preset Pack",
    "Font Family",
    "Sample Library",
    "Icon Set",
    "Membership",
    "Workbook",
    "Template Kit",
    "Course",
    "Sticker Pack",
    "Soundtrack",
    "Brush Set",
    "Cookbook",
    "Zine",
];
const PRODUCT_TOPICS: &[&str] = &[
    "Watercolor",
    "Rust",
    "Lo-fi",
    "Street Photography",
    "Bookkeeping",
    "Pottery",
    "Synthwave",
    "Typography",
    "Notion",
    "Bouldering",
    "Sourdough",
    "Figma",
    "Indie Games",
    "Calligraphy",
    "Home Studio",
];
const PRICES: &[i64] = &[300, 500, 900, 1_200, 1_500, 2_000, 2_500, 3_900, 4_900, 9_900, 19_900];
const FIRST: &[&str] = &[
    "alex", "sam", "jordan", "maria", "li", "noah", "emma", "liam", "olivia", "mateo", "yuki", "amara", "lucas", "sofia", "arjun", "chloe", "omar", "hana",
    "felix", "zoe", "ivan", "nora", "diego", "mia",
];
const LAST: &[&str] = &[
    "smith", "garcia", "kim", "nguyen", "muller", "rossi", "silva", "patel", "cohen", "martin", "brown", "tanaka", "novak", "jensen", "lopez", "dubois",
    "khan", "wilson",
];
const EMAIL_DOMAINS: &[(&str, u32)] = &[
    ("gmail.com", 46),
    ("yahoo.com", 9),
    ("outlook.com", 10),
    ("icloud.com", 12),
    ("hotmail.com", 7),
    ("proton.me", 4),
    ("gmx.de", 3),
    ("orange.fr", 2),
    ("fastmail.com", 2),
];
const DISPOSABLE_DOMAINS: &[&str] = &["mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com", "trashmail.com"];

/// (country, merchant weight, currency, first octets of addresses that look like it)
const COUNTRIES: &[(&str, u32, &str, &[u8])] = &[
    ("US", 45, "USD", &[23, 24, 50, 68, 71, 73, 98, 104, 108, 173]),
    ("GB", 10, "GBP", &[31, 51, 81, 86, 92]),
    ("DE", 7, "EUR", &[46, 77, 84, 87, 91]),
    ("CA", 6, "CAD", &[24, 70, 99, 142]),
    ("AU", 5, "AUD", &[1, 27, 49, 101, 203]),
    ("FR", 5, "EUR", &[2, 37, 80, 90, 176]),
    ("NL", 4, "EUR", &[31, 62, 77, 145]),
    ("BR", 4, "BRL", &[177, 179, 186, 187, 189]),
    ("IN", 4, "INR", &[49, 106, 117, 122, 157]),
    ("ES", 3, "EUR", &[2, 79, 83, 88]),
    ("IT", 3, "EUR", &[2, 79, 93, 151]),
    ("SE", 2, "SEK", &[78, 81, 83, 90]),
    ("JP", 2, "USD", &[27, 60, 106, 126, 133]),
    ("RU", 0, "USD", &[5, 31, 46, 77, 95, 178, 188]),
    ("NG", 0, "USD", &[41, 102, 105, 154, 197]),
];

pub struct GeneratedMerchant {
    pub name: String,
    pub email: String,
    pub country: &'static str,
    pub currency: &'static str,
    pub created_at: DateTime<Utc>,
}

/// The merchant's country is the stream's first draw, so `merchant_country` can recompute it.
/// The demo merchant (id 1) is always American, so the demo shows dollars.
pub fn merchant_country(rng: &mut ChaCha8Rng, id: u32) -> &'static str {
    let drawn = COUNTRIES.choose_weighted(rng, |c| c.1).expect("weights are positive").0;
    if id == 1 {
        "US"
    } else {
        drawn
    }
}

pub fn merchant(rng: &mut ChaCha8Rng, id: u32, until: DateTime<Utc>) -> GeneratedMerchant {
    let country = merchant_country(rng, id);
    let currency = COUNTRIES.iter().find(|c| c.0 == country).map(|c| c.2).unwrap_or("USD");
    let name = format!("{} {} {}", ADJECTIVES.choose(rng).expect("non-empty"), NOUNS.choose(rng).expect("non-empty"), KINDS.choose(rng).expect("non-empty"));
    let slug: String = name.to_ascii_lowercase().split(' ').collect::<Vec<_>>().join("-");
    GeneratedMerchant { email: format!("owner+{id}@{slug}.example"), name, country, currency, created_at: until - Duration::days(rng.random_range(95..1_500)) }
}

pub fn risk_state(rng: &mut ChaCha8Rng) -> RiskState {
    let states = [
        (RiskState::NotReviewed, 70),
        (RiskState::Compliant, 24),
        (RiskState::FlaggedForFraud, 2),
        (RiskState::FlaggedForTosViolation, 1),
        (RiskState::OnProbation, 1),
        (RiskState::SuspendedForFraud, 1),
        (RiskState::SuspendedForTosViolation, 1),
    ];
    states.choose_weighted(rng, |s| s.1).expect("weights are positive").0
}

pub fn product(rng: &mut ChaCha8Rng) -> (String, i64) {
    let name = format!("{} {}", PRODUCT_TOPICS.choose(rng).expect("non-empty"), PRODUCT_KINDS.choose(rng).expect("non-empty"));
    (name, *PRICES.choose(rng).expect("non-empty"))
}

/// Buyers are numbered; the same number is always the same person (email and card).
pub fn buyer_email(buyer: u64) -> String {
    let first = FIRST[(buyer % FIRST.len() as u64) as usize];
    let last = LAST[((buyer / FIRST.len() as u64) % LAST.len() as u64) as usize];
    let weights: u32 = EMAIL_DOMAINS.iter().map(|d| d.1).sum();
    let mut pick = (buyer.wrapping_mul(2_654_435_761) % weights as u64) as u32;
    let domain = EMAIL_DOMAINS
        .iter()
        .find(|d| {
            if pick < d.1 {
                true
            } else {
                pick -= d.1;
                false
            }
        })
        .map(|d| d.0)
        .unwrap_or("gmail.com");
    format!("{first}.{last}{}@{domain}", buyer % 997)
}

pub fn disposable_email(rng: &mut ChaCha8Rng) -> String {
    format!("{:x}@{}", rng.random::<u32>(), DISPOSABLE_DOMAINS.choose(rng).expect("non-empty"))
}

/// A stable, card-fingerprint-looking hex string for an identity number.
pub fn fingerprint(identity: u64) -> String {
    let mut x = identity ^ 0x5DEE_CE66_D1CE_5EED;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    format!("fp_{x:016x}")
}

/// Most buyers live where the shop is; the rest anywhere.
pub fn buyer_country(rng: &mut ChaCha8Rng, merchant_country: &'static str) -> &'static str {
    if rng.random_bool(0.7) {
        merchant_country
    } else {
        COUNTRIES.choose_weighted(rng, |c| c.1.max(1)).expect("weights are positive").0
    }
}

pub fn random_country(rng: &mut ChaCha8Rng) -> &'static str {
    COUNTRIES.choose(rng).expect("non-empty").0
}

pub fn ip_address(rng: &mut ChaCha8Rng, country: &str) -> String {
    let prefixes = COUNTRIES.iter().find(|c| c.0 == country).map(|c| c.3).unwrap_or(&[23]);
    let first = prefixes.choose(rng).expect("non-empty");
    format!("{first}.{}.{}.{}", rng.random_range(0..=255), rng.random_range(0..=255), rng.random_range(1..=254))
}
