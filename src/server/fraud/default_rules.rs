//! The ruleset and lists a new installation starts with: the common card-fraud signals of
//! payments risk teams (listed identities, card testing, velocity, geography mismatch, new
//! merchants selling big tickets, dispute-heavy merchants), written as an admin would.
use crate::app::dto::{ListKind, RuleEffectSpec, RuleModeSpec, RuleSpec, RulesetDraft};

/// (name, description, expression, effect, mode)
const RULES: &[(&str, &str, &str, RuleEffectSpec, RuleModeSpec)] = &[
    (
        "Trusted buyer",
        "The buyer's email or card is trusted, everywhere or at this merchant",
        "in_list('trusted_emails', transaction.buyer_email) || in_list('trusted_cards', transaction.card_fingerprint)",
        RuleEffectSpec::Allow,
        RuleModeSpec::Live,
    ),
    (
        "Blocked email",
        "The buyer's email is on the block list",
        "in_list('blocked_emails', transaction.buyer_email)",
        RuleEffectSpec::Block,
        RuleModeSpec::Live,
    ),
    ("Blocked card", "The card is on the block list", "in_list('blocked_cards', transaction.card_fingerprint)", RuleEffectSpec::Block, RuleModeSpec::Live),
    (
        "Blocked IP",
        "The buyer's IP address is on the block list (address or range)",
        "in_list('blocked_ips', transaction.ip)",
        RuleEffectSpec::Block,
        RuleModeSpec::Live,
    ),
    (
        "Card testing",
        "Many small charges on one card within the hour",
        "velocity.card_count_1h >= 5 && transaction.amount_usd < 5.0",
        RuleEffectSpec::Block,
        RuleModeSpec::Live,
    ),
    (
        "Disposable email",
        "The buyer's email domain is a disposable-mail provider",
        "in_list('disposable_domains', transaction.email_domain)",
        RuleEffectSpec::Review,
        RuleModeSpec::Live,
    ),
    (
        "New merchant, big ticket",
        "A merchant younger than two weeks sells above $500",
        "merchant.age_days < 14 && transaction.amount_usd > 500.0",
        RuleEffectSpec::Review,
        RuleModeSpec::Live,
    ),
    (
        "Merchant under fraud review",
        "The merchant is flagged or on probation",
        "merchant.risk_state == 'flagged_for_fraud' || merchant.risk_state == 'on_probation'",
        RuleEffectSpec::Review,
        RuleModeSpec::Live,
    ),
    (
        "Suspended merchant",
        "The merchant is suspended: no sales go through",
        "merchant.risk_state == 'suspended_for_fraud' || merchant.risk_state == 'suspended_for_tos_violation'",
        RuleEffectSpec::Block,
        RuleModeSpec::Live,
    ),
    (
        "Card and IP countries differ",
        "The card was issued in another country than the buyer's IP",
        "transaction.ip_country != '' && transaction.card_country != transaction.ip_country",
        RuleEffectSpec::Score(25.0),
        RuleModeSpec::Live,
    ),
    (
        "High-risk card country",
        "The card comes from a country on the high-risk list",
        "in_list('high_risk_countries', transaction.card_country)",
        RuleEffectSpec::Score(30.0),
        RuleModeSpec::Live,
    ),
    (
        "Email velocity",
        "The buyer's email paid more than 10 times in 24 hours",
        "velocity.email_count_24h > 10",
        RuleEffectSpec::Score(30.0),
        RuleModeSpec::Live,
    ),
    ("IP velocity", "More than 20 payments from one IP within the hour", "velocity.ip_count_1h > 20", RuleEffectSpec::Score(30.0), RuleModeSpec::Live),
    (
        "Card spend",
        "More than $3,000 on one card in 24 hours",
        "velocity.card_sum_usd_24h + transaction.amount_usd > 3000.0",
        RuleEffectSpec::Score(35.0),
        RuleModeSpec::Live,
    ),
    ("High amount", "A single payment above $2,000", "transaction.amount_usd > 2000.0", RuleEffectSpec::Score(40.0), RuleModeSpec::Live),
    (
        "Dispute-heavy merchant",
        "More than 1% of the merchant's payments were disputed in 90 days",
        "merchant.dispute_rate > 0.01",
        RuleEffectSpec::Score(20.0),
        RuleModeSpec::Live,
    ),
    (
        "Unverified merchant, high volume hour",
        "An unverified merchant takes more than 200 payments in an hour",
        "!merchant.verified && velocity.merchant_count_1h > 200",
        RuleEffectSpec::Score(15.0),
        RuleModeSpec::Live,
    ),
    (
        "Prepaid-BIN card testing (trial)",
        "Trial: many cards from one IP in a day; shadow until its hit rate is known",
        "velocity.ip_count_24h > 8 && transaction.amount_usd < 10.0",
        RuleEffectSpec::Review,
        RuleModeSpec::Shadow,
    ),
];

pub fn ruleset() -> RulesetDraft {
    RulesetDraft {
        review_score: 50.0,
        block_score: 80.0,
        rules: RULES
            .iter()
            .map(|(name, description, expression, effect, mode)| RuleSpec {
                name: name.to_string(),
                description: description.to_string(),
                expression: expression.to_string(),
                effect: *effect,
                enabled: true,
                mode: *mode,
            })
            .collect(),
        note: "Default ruleset".into(),
    }
}

/// (name, kind, description, entries as (value, reason))
pub const LISTS: &[(&str, ListKind, &str, &[(&str, &str)])] = &[
    ("trusted_emails", ListKind::Email, "Buyers vouched for by support", &[("vip.buyer@example.com", "long-standing customer")]),
    ("trusted_cards", ListKind::CardFingerprint, "Cards vouched for by a reviewer, at one merchant or all", &[]),
    ("blocked_emails", ListKind::Email, "Buyers who committed fraud", &[("fraudster@example.net", "chargeback fraud, case 1042")]),
    ("blocked_cards", ListKind::CardFingerprint, "Cards reported stolen", &[("fp_stolen_0001", "reported stolen by issuer")]),
    ("blocked_ips", ListKind::Ip, "Addresses and ranges of known abuse", &[("203.0.113.0/24", "card-testing botnet range")]),
    (
        "disposable_domains",
        ListKind::EmailDomain,
        "Disposable-mail providers",
        &[("mailinator.com", "disposable mail"), ("guerrillamail.com", "disposable mail"), ("10minutemail.com", "disposable mail")],
    ),
    ("high_risk_countries", ListKind::Country, "Card countries with high fraud rates for us", &[("NG", "fraud rate"), ("RO", "fraud rate")]),
    ("blocked_bins", ListKind::CardBin, "Prepaid BINs abused for card testing", &[("411111", "test-card BIN seen in attacks")]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_ruleset_is_valid_and_has_at_least_15_rules() {
        let draft = ruleset();
        assert!(draft.rules.len() >= 15);
        assert_eq!(super::super::versions::validate(&draft), vec![]);
    }
}
