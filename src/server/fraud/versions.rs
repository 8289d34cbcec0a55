//! The ruleset's versions in the database: validate, save a draft, publish, roll back.
//!
//! At most one draft and one published version exist at a time; publishing retires the version
//! that was live, and rolling back republishes the version that was live before the current one.
//! Every change bumps the engine generation so each instance reloads.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait};

use super::rules::{self, Action, Rule, RuleEffect, RuleMode, Ruleset};
use crate::app::dto::{RuleEffectSpec, RuleModeSpec, RuleProblem, RuleSchema, RuleSpec, RulesetDraft, RulesetStatus, RulesetVersion, SchemaEntry};
use crate::server::audit;
use crate::server::db::entities::ruleset;

/// Rules in one ruleset.
pub const MAX_RULES: usize = 500;
/// A rule's name, in characters. Names label the per-rule metrics (`rule="…"`), so they are
/// bounded in length and hold no control characters.
pub const MAX_RULE_NAME_CHARS: usize = 100;
/// A ruleset's note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error("the ruleset has problems")]
    Invalid(Vec<RuleProblem>),
    #[error("version {0} does not exist")]
    UnknownVersion(i32),
    #[error("version {0} is {1}; only a draft can be published")]
    NotADraft(i32, &'static str),
    #[error("there is no earlier published version to roll back to")]
    NothingToRollBackTo,
    #[error("the draft was changed by {by} at {at} — reload it before saving")]
    DraftChanged { by: String, at: String },
    #[error("publishing needs another admin's approval: {0} edited this draft, so another admin must publish it")]
    AuthorCannotApprove(String),
    #[error("{0} needs a reason of 1 to {MAX_NOTE_CHARS} characters")]
    ReasonRequired(&'static str),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

fn problem(rule_index: Option<usize>, rule_name: &str, message: impl Into<String>) -> RuleProblem {
    RuleProblem { rule_index, rule_name: rule_name.to_string(), message: message.into(), line: None, column: None }
}

/// Every problem of a draft at once: thresholds, names, scores, and each expression's check
/// (all of them on one parser thread, see [`rules::on_parser_stack`]).
pub fn validate(draft: &RulesetDraft) -> Vec<RuleProblem> {
    rules::on_parser_stack(|| validate_here(draft)).unwrap_or_else(|_| vec![problem(None, "", "the rules could not be checked now; try again")])
}

fn validate_here(draft: &RulesetDraft) -> Vec<RuleProblem> {
    let mut problems = Vec::new();
    if !(draft.review_score.is_finite() && draft.block_score.is_finite() && draft.review_score > 0.0) {
        problems.push(problem(None, "", "the review and block thresholds must be positive numbers"));
    } else if draft.review_score > draft.block_score {
        problems.push(problem(None, "", "the review threshold must not be above the block threshold"));
    }
    if draft.rules.len() > MAX_RULES {
        problems.push(problem(None, "", format!("the ruleset has {} rules; the limit is {MAX_RULES}", draft.rules.len())));
        // Not one by one: the count alone is reason enough, and checking is work per rule.
        return problems;
    }
    if draft.note.chars().count() > MAX_NOTE_CHARS {
        problems.push(problem(None, "", format!("the note is longer than {MAX_NOTE_CHARS} characters")));
    }
    let mut seen = std::collections::HashSet::new();
    for (index, spec) in draft.rules.iter().enumerate() {
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > MAX_RULE_NAME_CHARS {
            problems.push(problem(Some(index), &spec.name, format!("a rule needs a name of 1 to {MAX_RULE_NAME_CHARS} characters")));
        } else if name.chars().any(char::is_control) {
            problems.push(problem(Some(index), &spec.name, "a rule's name must not hold control characters (line breaks, tabs, …)"));
        } else if !seen.insert(name.to_lowercase()) {
            problems.push(problem(Some(index), &spec.name, format!("another rule is already named {name:?}")));
        }
        if let RuleEffectSpec::Score(points) = spec.effect {
            if !points.is_finite() || points.abs() > 1000.0 {
                problems.push(problem(Some(index), &spec.name, "a score must be between -1000 and 1000"));
            }
        }
        if let Err(errors) = rules::check(&spec.expression) {
            problems.extend(errors.into_iter().map(|e| RuleProblem {
                rule_index: Some(index),
                rule_name: spec.name.clone(),
                message: e.message,
                line: Some(e.line),
                column: Some(e.column),
            }));
        }
    }
    problems
}

/// One expression's problems, as the editor shows them while the admin types.
pub fn check_expression(expression: &str) -> Vec<RuleProblem> {
    match rules::check(expression) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|e| RuleProblem { rule_index: None, rule_name: String::new(), message: e.message, line: Some(e.line), column: Some(e.column) })
            .collect(),
    }
}

/// What a rule may read and call, and the lists it may name.
pub async fn schema(db: &impl ConnectionTrait) -> Result<RuleSchema, sea_orm::DbErr> {
    let fields = rules::schema_fields().into_iter().map(|(name, ty)| SchemaEntry { name, detail: ty.to_string(), doc: String::new() }).collect();
    let functions = rules::SCHEMA_FUNCTIONS
        .iter()
        .map(|(name, signature, ty, doc)| SchemaEntry { name: name.to_string(), detail: format!("{signature} → {ty}"), doc: doc.to_string() })
        .collect();
    let lists = super::list_store::summaries(db)
        .await?
        .into_iter()
        .map(|l| SchemaEntry {
            name: l.name,
            detail: serde_json::to_value(l.kind).ok().and_then(|k| k.as_str().map(String::from)).unwrap_or_default(),
            doc: l.description,
        })
        .collect();
    Ok(RuleSchema { fields, functions, lists })
}

/// The enabled rules of a valid draft, compiled.
pub fn compile(draft: &RulesetDraft) -> Result<Ruleset, Vec<RuleProblem>> {
    rules::on_parser_stack(|| compile_here(draft)).unwrap_or_else(|_| Err(vec![problem(None, "", "the rules could not be compiled now; try again")]))
}

fn compile_here(draft: &RulesetDraft) -> Result<Ruleset, Vec<RuleProblem>> {
    let problems = validate_here(draft);
    if !problems.is_empty() {
        return Err(problems);
    }
    let rules = draft
        .rules
        .iter()
        .filter(|spec| spec.enabled)
        .map(|spec| {
            let effect = match spec.effect {
                RuleEffectSpec::Allow => RuleEffect::Action(Action::Allow),
                RuleEffectSpec::Review => RuleEffect::Action(Action::Review),
                RuleEffectSpec::Block => RuleEffect::Action(Action::Block),
                RuleEffectSpec::Score(points) => RuleEffect::Score(points),
            };
            let mode = match spec.mode {
                RuleModeSpec::Live => RuleMode::Live,
                RuleModeSpec::Shadow => RuleMode::Shadow,
            };
            Rule::new(spec.name.trim(), &spec.expression, effect, mode).map(|rule| rule.with_description(&spec.description))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|errors| errors.into_iter().map(|e| problem(None, "", e.message)).collect::<Vec<_>>())?;
    Ok(Ruleset::new(rules, draft.review_score, draft.block_score))
}

/// Saves the draft (replacing the current draft, if any, as its next revision) after checking
/// it, with its audit event. `expected_revision` is the draft revision the author edited (0: no
/// draft existed); when given and the draft moved since, nothing is saved. None: no check (the
/// seed, scripts).
pub async fn save_draft(
    db: &DatabaseConnection,
    draft: &RulesetDraft,
    author: &str,
    expected_revision: Option<i32>,
    now: DateTime<Utc>,
) -> Result<RulesetVersion, VersionError> {
    let problems = validate(draft);
    if !problems.is_empty() {
        return Err(VersionError::Invalid(problems));
    }
    let rules_json = serde_json::to_string(&draft.rules).expect("rules serialise");
    let txn = db.begin().await?;
    // First, so concurrent changes take turns (the row lock; SQLite's write lock at once).
    super::generation::bump(&txn).await?;
    let existing = ruleset::Entity::find().filter(ruleset::Column::Status.eq(RulesetStatus::Draft.as_str())).one(&txn).await?;
    if let Some(expected) = expected_revision {
        let current = existing.as_ref().map_or(0, |m| m.revision);
        if current != expected {
            return Err(match existing {
                Some(m) => VersionError::DraftChanged { by: m.created_by, at: m.created_at.format("%Y-%m-%d %H:%M UTC").to_string() },
                // It was published or discarded meanwhile.
                None => VersionError::DraftChanged { by: "another admin".into(), at: "a moment ago".into() },
            });
        }
    }
    let model = match existing {
        Some(model) => {
            let revision = model.revision + 1;
            let mut active: ruleset::ActiveModel = model.into();
            active.revision = Set(revision);
            active.review_score = Set(draft.review_score);
            active.block_score = Set(draft.block_score);
            active.rules = Set(rules_json);
            active.note = Set(draft.note.trim().to_string());
            active.created_by = Set(author.to_string());
            active.created_at = Set(now);
            active.update(&txn).await?
        }
        None => {
            let version = next_version(&txn).await?;
            ruleset::ActiveModel {
                version: Set(version),
                status: Set(RulesetStatus::Draft.as_str().into()),
                review_score: Set(draft.review_score),
                block_score: Set(draft.block_score),
                rules: Set(rules_json),
                note: Set(draft.note.trim().to_string()),
                created_by: Set(author.to_string()),
                created_at: Set(now),
                published_at: Set(None),
                revision: Set(1),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    let entry = audit::Entry {
        actor: author,
        action: "ruleset.draft_saved",
        object_kind: "ruleset",
        object_id: model.version.to_string(),
        summary: format!("saved draft version {} (revision {}, {} rules)", model.version, model.revision, draft.rules.len()),
        reason: Some(draft.note.trim()).filter(|n| !n.is_empty()),
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(to_dto(model))
}

/// A person's note or reason: trimmed, 1 to [`MAX_NOTE_CHARS`] characters.
fn reason_of(text: &str, what: &'static str) -> Result<String, VersionError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(VersionError::ReasonRequired(what));
    }
    Ok(text.to_string())
}

async fn next_version(db: &impl ConnectionTrait) -> Result<i32, sea_orm::DbErr> {
    let last = ruleset::Entity::find().order_by_desc(ruleset::Column::Version).one(db).await?;
    Ok(last.map_or(1, |m| m.version + 1))
}

/// Publishes a draft: the live version is retired (kept), this one goes live everywhere. The
/// note (why) becomes the version's note and the audit event's reason.
/// Who may publish a draft (`RULES_PUBLISH_NEEDS_APPROVAL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Any admin, its author included.
    AnyAdmin,
    /// Only an admin who saved none of its revisions: publishing is their approval.
    SecondAdmin,
}

/// Everyone who saved a revision of the draft `version` (the audit log's record of it).
async fn authors_of(db: &impl ConnectionTrait, version: i32) -> Result<Vec<String>, sea_orm::DbErr> {
    use crate::server::db::entities::audit_event;
    let rows: Vec<String> = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::Actor)
        .filter(audit_event::Column::ObjectKind.eq("ruleset"))
        .filter(audit_event::Column::ObjectId.eq(version.to_string()))
        .filter(audit_event::Column::Action.eq("ruleset.draft_saved"))
        .into_tuple()
        .all(db)
        .await?;
    let mut authors = rows;
    authors.sort();
    authors.dedup();
    Ok(authors)
}

pub async fn publish(
    db: &DatabaseConnection,
    version: i32,
    note: &str,
    publisher: &str,
    approval: Approval,
    now: DateTime<Utc>,
) -> Result<RulesetVersion, VersionError> {
    let note = reason_of(note, "publishing")?;
    let txn = db.begin().await?;
    // First, so concurrent changes take turns (the row lock; SQLite's write lock at once).
    super::generation::bump(&txn).await?;
    let target = ruleset::Entity::find().filter(ruleset::Column::Version.eq(version)).one(&txn).await?.ok_or(VersionError::UnknownVersion(version))?;
    let status = RulesetStatus::parse(&target.status).unwrap_or(RulesetStatus::Retired);
    if status != RulesetStatus::Draft {
        return Err(VersionError::NotADraft(version, status.as_str()));
    }
    // The stored rules were checked at save time; check again in case the schema moved since.
    let draft = draft_of(&target);
    let problems = validate(&draft);
    if !problems.is_empty() {
        return Err(VersionError::Invalid(problems));
    }
    let authors = authors_of(&txn, version).await?;
    if approval == Approval::SecondAdmin && (authors.iter().any(|a| a == publisher) || target.created_by == publisher) {
        return Err(VersionError::AuthorCannotApprove(publisher.to_string()));
    }
    let was_live = live_version(&txn).await?;
    retire_published(&txn).await?;
    let revision = target.revision;
    let mut active: ruleset::ActiveModel = target.into();
    active.status = Set(RulesetStatus::Published.as_str().into());
    active.published_at = Set(Some(now));
    active.note = Set(note.clone());
    let model = active.update(&txn).await?;
    let replaced = was_live.map(|v| format!(", replacing version {v}")).unwrap_or_default();
    let entry = audit::Entry {
        actor: publisher,
        action: "ruleset.published",
        object_kind: "ruleset",
        object_id: version.to_string(),
        summary: match approval {
            Approval::AnyAdmin => format!("published version {version} (revision {revision}){replaced}"),
            Approval::SecondAdmin => format!("approved and published version {version} (revision {revision}, edited by {}){replaced}", authors.join(", ")),
        },
        reason: Some(&note),
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(to_dto(model))
}

async fn live_version(db: &impl ConnectionTrait) -> Result<Option<i32>, sea_orm::DbErr> {
    let live = ruleset::Entity::find().filter(ruleset::Column::Status.eq(RulesetStatus::Published.as_str())).one(db).await?;
    Ok(live.map(|m| m.version))
}

/// Republishes the version that was live before the current one, saying why.
pub async fn rollback(db: &DatabaseConnection, reason: &str, actor: &str, now: DateTime<Utc>) -> Result<RulesetVersion, VersionError> {
    let reason = reason_of(reason, "rolling back")?;
    let txn = db.begin().await?;
    // First, so concurrent changes take turns (the row lock; SQLite's write lock at once).
    super::generation::bump(&txn).await?;
    let current = ruleset::Entity::find().filter(ruleset::Column::Status.eq(RulesetStatus::Published.as_str())).one(&txn).await?;
    let previous = ruleset::Entity::find()
        .filter(ruleset::Column::Status.eq(RulesetStatus::Retired.as_str()))
        .filter(ruleset::Column::PublishedAt.is_not_null())
        .order_by_desc(ruleset::Column::PublishedAt)
        .order_by_desc(ruleset::Column::Version)
        .one(&txn)
        .await?
        .ok_or(VersionError::NothingToRollBackTo)?;
    if current.is_some() {
        retire_published(&txn).await?;
    }
    let mut active: ruleset::ActiveModel = previous.into();
    active.status = Set(RulesetStatus::Published.as_str().into());
    active.published_at = Set(Some(now));
    let model = active.update(&txn).await?;
    let from = current.map(|m| format!(" from version {}", m.version)).unwrap_or_default();
    let entry = audit::Entry {
        actor,
        action: "ruleset.rolled_back",
        object_kind: "ruleset",
        object_id: model.version.to_string(),
        summary: format!("rolled back{from} to version {}", model.version),
        reason: Some(&reason),
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(to_dto(model))
}

async fn retire_published(db: &impl ConnectionTrait) -> Result<(), sea_orm::DbErr> {
    ruleset::Entity::update_many()
        .col_expr(ruleset::Column::Status, Expr::value(RulesetStatus::Retired.as_str()))
        .filter(ruleset::Column::Status.eq(RulesetStatus::Published.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Every version, newest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<RulesetVersion>, sea_orm::DbErr> {
    let models = ruleset::Entity::find().order_by_desc(ruleset::Column::Version).all(db).await?;
    Ok(models.into_iter().map(to_dto).collect())
}

/// The live version and its rules, if one was ever published; the rules are an error when their
/// stored row cannot be read as rules any more.
pub async fn published(db: &impl ConnectionTrait) -> Result<Option<(i32, Result<RulesetDraft, Vec<RuleProblem>>)>, sea_orm::DbErr> {
    let model = ruleset::Entity::find().filter(ruleset::Column::Status.eq(RulesetStatus::Published.as_str())).one(db).await?;
    Ok(model.map(|m| {
        let rules = serde_json::from_str::<Vec<RuleSpec>>(&m.rules)
            .map(|rules| RulesetDraft { review_score: m.review_score, block_score: m.block_score, rules, note: m.note.clone() })
            .map_err(|e| vec![problem(None, "", format!("the stored rules cannot be read: {e}"))]);
        (m.version, rules)
    }))
}

/// One problem on one line, for logs: `rule 3 "Over $100": unknown field … (line 1, column 5)`.
pub fn describe_problem(p: &RuleProblem) -> String {
    let rule = match p.rule_index {
        Some(index) => format!("rule {} {:?}: ", index + 1, p.rule_name),
        None => String::new(),
    };
    let at = match (p.line, p.column) {
        (Some(line), Some(column)) => format!(" (line {line}, column {column})"),
        _ => String::new(),
    };
    format!("{rule}{}{at}", p.message)
}

/// Publishes `draft` as version 1 when no ruleset exists yet (seeding).
pub async fn publish_initial(db: &DatabaseConnection, draft: &RulesetDraft, author: &str, now: DateTime<Utc>) -> Result<Option<RulesetVersion>, VersionError> {
    if ruleset::Entity::find().one(db).await?.is_some() {
        return Ok(None);
    }
    let saved = save_draft(db, draft, author, None, now).await?;
    Ok(Some(publish(db, saved.version, "the initial ruleset", author, Approval::AnyAdmin, now).await?))
}

fn draft_of(model: &ruleset::Model) -> RulesetDraft {
    RulesetDraft {
        review_score: model.review_score,
        block_score: model.block_score,
        // Written by save_draft from Vec<RuleSpec>; an unreadable row reads as no rules.
        rules: serde_json::from_str::<Vec<RuleSpec>>(&model.rules).unwrap_or_default(),
        note: model.note.clone(),
    }
}

fn to_dto(model: ruleset::Model) -> RulesetVersion {
    RulesetVersion {
        version: model.version,
        status: RulesetStatus::parse(&model.status).unwrap_or(RulesetStatus::Retired),
        note: model.note.clone(),
        created_by: model.created_by.clone(),
        created_at: model.created_at.to_rfc3339(),
        published_at: model.published_at.map(|t| t.to_rfc3339()),
        revision: model.revision,
        draft: draft_of(&model),
    }
}
