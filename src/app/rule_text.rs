//! What the rule editor understands of a CEL expression and of rulesets, without the server:
//! tokens (for highlighting and bracket matching), completion at the caret, and the difference
//! between two versions. Pure functions, compiled into the page and tested on the server.
use crate::app::dto::{RuleEffectSpec, RuleModeSpec, RuleSchema, RulesetDraft, SchemaEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Name,
    Keyword,
    Number,
    Text,
    Operator,
    Bracket,
    Space,
    Other,
}

impl TokenKind {
    /// The highlight colour of the token's kind.
    pub fn class(self) -> &'static str {
        match self {
            TokenKind::Name => "text-slate-900",
            TokenKind::Keyword => "text-purple-700",
            TokenKind::Number => "text-blue-700",
            TokenKind::Text => "text-emerald-700",
            TokenKind::Operator => "text-rose-700",
            TokenKind::Bracket => "text-slate-500",
            TokenKind::Space => "",
            TokenKind::Other => "text-slate-900",
        }
    }
}

/// A run of the expression: `text[start..end]`, byte offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

const KEYWORDS: &[&str] = &["true", "false", "null", "in"];

/// Splits an expression into tokens that cover it exactly (every byte is in one token).
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let mut end = start + c.len_utf8();
        let mut take_while = |end: &mut usize, keep: &dyn Fn(char) -> bool| {
            while let Some(&(i, next)) = chars.peek() {
                if !keep(next) {
                    break;
                }
                *end = i + next.len_utf8();
                chars.next();
            }
        };
        let kind = match c {
            c if c.is_whitespace() => {
                take_while(&mut end, &|n| n.is_whitespace());
                TokenKind::Space
            }
            '\'' | '"' => {
                // To the closing quote on the same line (CEL's short strings), past escapes.
                let mut escaped = false;
                while let Some(&(i, next)) = chars.peek() {
                    if next == '\n' {
                        break;
                    }
                    end = i + next.len_utf8();
                    chars.next();
                    if escaped {
                        escaped = false;
                    } else if next == '\\' {
                        escaped = true;
                    } else if next == c {
                        break;
                    }
                }
                TokenKind::Text
            }
            c if c.is_ascii_digit() => {
                take_while(&mut end, &|n| n.is_ascii_alphanumeric() || n == '.');
                TokenKind::Number
            }
            c if c.is_alphabetic() || c == '_' => {
                take_while(&mut end, &|n| n.is_alphanumeric() || n == '_');
                if KEYWORDS.contains(&&text[start..end]) {
                    TokenKind::Keyword
                } else {
                    TokenKind::Name
                }
            }
            '(' | ')' | '[' | ']' | '{' | '}' => TokenKind::Bracket,
            '&' | '|' | '=' | '!' | '<' | '>' => {
                take_while(&mut end, &|n| matches!(n, '&' | '|' | '='));
                TokenKind::Operator
            }
            '+' | '-' | '*' | '/' | '%' | '?' | ':' => TokenKind::Operator,
            _ => TokenKind::Other,
        };
        out.push(Token { kind, start, end });
    }
    out
}

/// The two brackets to show as a pair when the caret (a byte offset) touches one: the bracket
/// just before the caret, else the one just after it. Byte offsets of both.
pub fn matching_bracket(text: &str, caret: usize) -> Option<(usize, usize)> {
    let brackets: Vec<Token> = tokens(text).into_iter().filter(|t| t.kind == TokenKind::Bracket).collect();
    let at = brackets.iter().position(|t| t.end == caret).or_else(|| brackets.iter().position(|t| t.start == caret))?;
    let open_of = |c: u8| match c {
        b')' => Some(b'('),
        b']' => Some(b'['),
        b'}' => Some(b'{'),
        _ => None,
    };
    let byte = |t: &Token| text.as_bytes()[t.start];
    let here = byte(&brackets[at]);
    let mut depth = 0i32;
    if let Some(opener) = open_of(here) {
        for t in brackets[..at].iter().rev() {
            let b = byte(t);
            if b == here {
                depth += 1;
            } else if b == opener {
                if depth == 0 {
                    return Some((t.start, brackets[at].start));
                }
                depth -= 1;
            }
        }
    } else {
        for t in &brackets[at + 1..] {
            let b = byte(t);
            if b == here {
                depth += 1;
            } else if open_of(b) == Some(here) {
                if depth == 0 {
                    return Some((brackets[at].start, t.start));
                }
                depth -= 1;
            }
        }
    }
    None
}

/// The byte offset of a 1-based line and column (columns count characters).
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (number, content) in text.split_inclusive('\n').enumerate() {
        if number + 1 == line {
            return offset + content.char_indices().nth(column.saturating_sub(1)).map_or(content.trim_end_matches('\n').len(), |(i, _)| i);
        }
        offset += content.len();
    }
    text.len()
}

/// What completion offers at the caret: replace `text[from..caret]` with one of `items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub from: usize,
    pub items: Vec<SchemaEntry>,
}

/// Most items shown at once.
pub const MAX_COMPLETIONS: usize = 12;

/// Completion at `caret` (a byte offset): list names inside `in_list('…`; otherwise fields,
/// roots and functions matching the word before the caret — by prefix first, then as a
/// subsequence, so a typo (`amout`) still finds `amount`. `forced` (Ctrl+Space) offers
/// everything even before a word is started.
pub fn complete(schema: &RuleSchema, text: &str, caret: usize, forced: bool) -> Option<Completion> {
    let before = text.get(..caret)?;
    // Inside a string (an odd number of quotes before the caret): list names when it is the
    // first argument of in_list, nothing otherwise.
    if before.matches(['\'', '"']).count() % 2 == 1 {
        let quote = before.rfind(['\'', '"'])?;
        let opened = before[..quote].trim_end().strip_suffix('(').map(str::trim_end).is_some_and(|b| b.ends_with("in_list"));
        if !opened {
            return None;
        }
        let items = ranked(schema.lists.iter(), &before[quote + 1..], |e| &e.name);
        return (!items.is_empty()).then_some(Completion { from: quote + 1, items });
    }
    let from = before.rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).map_or(0, |i| i + before[i..].chars().next().map_or(1, char::len_utf8));
    let word = &before[from..];
    if word.is_empty() && !forced {
        return None;
    }
    if word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let roots = ["transaction", "merchant", "velocity"].map(|root| SchemaEntry { name: format!("{root}."), detail: "object".into(), doc: String::new() });
    let candidates = roots.iter().chain(schema.fields.iter()).chain(schema.functions.iter());
    let items = ranked(candidates, word, |e| &e.name);
    // Nothing to offer, or only what is typed already.
    if items.is_empty() || (items.len() == 1 && items[0].name == word) {
        return None;
    }
    Some(Completion { from, items })
}

/// Entries whose name starts with `typed` (case-insensitive), then those whose last part starts
/// with it (`card_count` → `velocity.card_count_1h`), then those holding it as a subsequence.
fn ranked<'a>(entries: impl Iterator<Item = &'a SchemaEntry>, typed: &str, name: impl Fn(&SchemaEntry) -> &str) -> Vec<SchemaEntry> {
    let typed = typed.to_lowercase();
    let mut scored: Vec<(u8, &SchemaEntry)> = entries
        .filter_map(|e| {
            let n = name(e).to_lowercase();
            let last = n.rsplit('.').next().unwrap_or(&n);
            let rank = if n.starts_with(&typed) {
                0
            } else if last.starts_with(typed.rsplit('.').next().unwrap_or(&typed)) && !typed.contains('.') {
                1
            } else if is_subsequence(&typed, &n) {
                2
            } else {
                return None;
            };
            Some((rank, e))
        })
        .collect();
    scored.sort_by_key(|(rank, _)| *rank);
    scored.into_iter().take(MAX_COMPLETIONS).map(|(_, e)| e.clone()).collect()
}

fn is_subsequence(needle: &str, haystack: &str) -> bool {
    let mut rest = haystack.chars();
    needle.chars().all(|c| rest.any(|h| h == c))
}

/// One difference between two versions of the ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleChange {
    Added {
        rule: String,
        expression: String,
    },
    Removed {
        rule: String,
        expression: String,
    },
    /// What changed, in words ("effect: review → block"), and both expressions when they differ.
    Changed {
        rule: String,
        what: Vec<String>,
        expressions: Option<(String, String)>,
    },
    Thresholds {
        what: String,
    },
}

fn effect_label(effect: RuleEffectSpec) -> String {
    match effect {
        RuleEffectSpec::Allow => "allow".into(),
        RuleEffectSpec::Review => "review".into(),
        RuleEffectSpec::Block => "block".into(),
        RuleEffectSpec::Score(points) => format!("score {points:+}"),
    }
}

fn mode_label(mode: RuleModeSpec) -> &'static str {
    match mode {
        RuleModeSpec::Live => "live",
        RuleModeSpec::Shadow => "shadow",
    }
}

/// From `old` to `new`: rules matched by name (case and surrounding spaces aside); removed first,
/// then changed and added in `new`'s order, then the thresholds.
pub fn diff(old: &RulesetDraft, new: &RulesetDraft) -> Vec<RuleChange> {
    let key = |name: &str| name.trim().to_lowercase();
    let mut changes = Vec::new();
    for rule in &old.rules {
        if !new.rules.iter().any(|r| key(&r.name) == key(&rule.name)) {
            changes.push(RuleChange::Removed { rule: rule.name.clone(), expression: rule.expression.clone() });
        }
    }
    for (index, rule) in new.rules.iter().enumerate() {
        let Some((old_index, before)) = old.rules.iter().enumerate().find(|(_, r)| key(&r.name) == key(&rule.name)) else {
            changes.push(RuleChange::Added { rule: rule.name.clone(), expression: rule.expression.clone() });
            continue;
        };
        let mut what = Vec::new();
        if before.effect != rule.effect {
            what.push(format!("effect: {} → {}", effect_label(before.effect), effect_label(rule.effect)));
        }
        if before.mode != rule.mode {
            what.push(format!("mode: {} → {}", mode_label(before.mode), mode_label(rule.mode)));
        }
        if before.enabled != rule.enabled {
            what.push(if rule.enabled { "enabled".into() } else { "disabled".into() });
        }
        if before.description.trim() != rule.description.trim() {
            what.push("description".into());
        }
        if old_index != index {
            what.push(format!("position: {} → {}", old_index + 1, index + 1));
        }
        let expressions = (before.expression.trim() != rule.expression.trim()).then(|| (before.expression.clone(), rule.expression.clone()));
        if expressions.is_some() {
            what.insert(0, "expression".into());
        }
        if !what.is_empty() {
            changes.push(RuleChange::Changed { rule: rule.name.clone(), what, expressions });
        }
    }
    if old.review_score != new.review_score {
        changes.push(RuleChange::Thresholds { what: format!("review threshold: {} → {}", old.review_score, new.review_score) });
    }
    if old.block_score != new.block_score {
        changes.push(RuleChange::Thresholds { what: format!("block threshold: {} → {}", old.block_score, new.block_score) });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dto::RuleSpec;

    fn rule(name: &str, expression: &str, effect: RuleEffectSpec) -> RuleSpec {
        RuleSpec { name: name.into(), description: String::new(), expression: expression.into(), effect, enabled: true, mode: RuleModeSpec::Live }
    }

    fn schema() -> RuleSchema {
        let entry = |name: &str, detail: &str| SchemaEntry { name: name.into(), detail: detail.into(), doc: String::new() };
        RuleSchema {
            fields: vec![entry("transaction.amount", "double"), entry("transaction.amount_usd", "double"), entry("velocity.card_count_1h", "int")],
            functions: vec![entry("in_list", "bool")],
            lists: vec![entry("blocked_emails", "email"), entry("blocked_cards", "card_fingerprint")],
        }
    }

    #[test]
    fn tokens_cover_the_text_and_know_strings_from_names() {
        let text = "in_list('blocked_emails', transaction.buyer_email) && transaction.amount >= 10.5";
        let tokens = tokens(text);
        assert_eq!(tokens.iter().map(|t| t.end - t.start).sum::<usize>(), text.len(), "every byte in one token");
        let kinds: Vec<(TokenKind, &str)> = tokens.iter().filter(|t| t.kind != TokenKind::Space).map(|t| (t.kind, &text[t.start..t.end])).collect();
        assert_eq!(kinds[2], (TokenKind::Text, "'blocked_emails'"));
        assert!(kinds.contains(&(TokenKind::Operator, "&&")) && kinds.contains(&(TokenKind::Operator, ">=")));
        assert_eq!(kinds.last(), Some(&(TokenKind::Number, "10.5")));
        // A string left open runs to the end of its line; quotes inside are escaped.
        let open = super::tokens("'a\\'b");
        assert_eq!((open.len(), open[0].kind), (1, TokenKind::Text));
    }

    #[test]
    fn the_bracket_at_the_caret_finds_its_partner_across_nesting() {
        let text = "(a && (b || c)) || d";
        assert_eq!(matching_bracket(text, 15), Some((0, 14)), "after the last )");
        assert_eq!(matching_bracket(text, 0), Some((0, 14)), "before the first (");
        assert_eq!(matching_bracket(text, 6), Some((6, 13)));
        assert_eq!(matching_bracket("(a", 0), None, "unclosed");
        assert_eq!(matching_bracket("a || b", 2), None, "no bracket at the caret");
    }

    #[test]
    fn a_line_and_column_becomes_a_byte_offset() {
        let text = "a &&\n  é > 1";
        assert_eq!(offset_of(text, 1, 1), 0);
        assert_eq!(offset_of(text, 2, 3), 7, "column 3 of line 2 is é");
        assert_eq!(offset_of(text, 2, 4), 9, "after the two-byte é");
        assert_eq!(offset_of(text, 9, 1), text.len(), "past the end");
    }

    #[test]
    fn completion_offers_fields_by_prefix_then_by_typo() {
        let schema = schema();
        let typed = "transaction.am";
        let c = complete(&schema, typed, typed.len(), false).unwrap();
        assert_eq!(c.from, 0);
        assert_eq!(c.items.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["transaction.amount", "transaction.amount_usd"]);
        let typo = "x > 1 && transaction.amout";
        let c = complete(&schema, typo, typo.len(), false).unwrap();
        assert_eq!((c.from, c.items[0].name.as_str()), (9, "transaction.amount"), "a typo finds the field");
        let last = "card_count";
        assert_eq!(complete(&schema, last, last.len(), false).unwrap().items[0].name, "velocity.card_count_1h");
        assert_eq!(complete(&schema, "x > ", 4, false), None, "nothing typed, nothing offered");
        assert!(complete(&schema, "x > ", 4, true).unwrap().items.len() >= 3, "Ctrl+Space offers everything");
        assert_eq!(complete(&schema, "10", 2, false), None, "not inside a number");
    }

    #[test]
    fn completion_inside_in_list_offers_list_names() {
        let schema = schema();
        let text = "in_list('blocked_e";
        let c = complete(&schema, text, text.len(), false).unwrap();
        assert_eq!((c.from, c.items.len(), c.items[0].name.as_str()), (9, 1, "blocked_emails"));
        let after = "in_list('blocked_emails', transaction.am";
        assert_eq!(complete(&schema, after, after.len(), false).unwrap().items[0].name, "transaction.amount", "past the list name: fields again");
    }

    #[test]
    fn diff_names_what_changed_between_versions() {
        let old = RulesetDraft {
            review_score: 50.0,
            block_score: 90.0,
            rules: vec![
                rule("Big", "transaction.amount > 100.0", RuleEffectSpec::Review),
                rule("Gone", "true", RuleEffectSpec::Block),
                rule("Same", "false", RuleEffectSpec::Allow),
            ],
            note: String::new(),
        };
        let mut new = old.clone();
        new.rules.remove(1);
        new.rules[0].expression = "transaction.amount > 500.0".into();
        new.rules[0].effect = RuleEffectSpec::Block;
        new.rules[1].mode = RuleModeSpec::Shadow;
        new.rules.push(rule("New", "true", RuleEffectSpec::Score(10.0)));
        new.block_score = 80.0;
        let changes = diff(&old, &new);
        assert_eq!(
            changes,
            vec![
                RuleChange::Removed { rule: "Gone".into(), expression: "true".into() },
                RuleChange::Changed {
                    rule: "Big".into(),
                    what: vec!["expression".into(), "effect: review → block".into()],
                    expressions: Some(("transaction.amount > 100.0".into(), "transaction.amount > 500.0".into())),
                },
                RuleChange::Changed { rule: "Same".into(), what: vec!["mode: live → shadow".into(), "position: 3 → 2".into()], expressions: None },
                RuleChange::Added { rule: "New".into(), expression: "true".into() },
                RuleChange::Thresholds { what: "block threshold: 90 → 80".into() },
            ]
        );
        assert!(diff(&old, &old).is_empty(), "a version equals itself");
    }
}
