//! The merchant risk state machine (after Gumroad's `user_risk_state`, see shared/DESIGN.md):
//! which event moves a merchant from which state to which, and who may make it. Pure — no
//! database, no clock — so every state × event × actor is tested as a table;
//! [`super::merchant_actions`] reads what [`decide`] needs and stores what it decides.
//!
//! | event | from → to |
//! |---|---|
//! | mark_compliant | any → compliant |
//! | flag_for_fraud | not_reviewed, compliant, flagged_for_tos_violation → flagged_for_fraud |
//! | flag_for_tos_violation | not_reviewed, compliant, flagged_for_fraud → flagged_for_tos_violation |
//! | put_on_probation | any → on_probation |
//! | suspend_for_fraud | flagged_for_fraud, on_probation → suspended_for_fraud |
//! | suspend_for_tos_violation | flagged_for_tos_violation, on_probation → suspended_for_tos_violation |
//! | lift_probation | on_probation → the state before the probation |
//!
//! Refused, each with its own error, checked in this order (after lifting's own precondition, a
//! merchant on probation):
//! 1. a move to the state the merchant is already in ("already compliant"): it would write a
//!    history row that changes nothing, and a second click on a stale page would look like a
//!    second decision;
//! 2. automation (a rule or a system job) moving a merchant out of a state a person set — a
//!    person's decision beats automation (Gumroad #2538: automation turned an admin's suspension
//!    back into "compliant", and the seller took ~$5k more). Automation that disagrees with a
//!    person opens a case for a person instead;
//! 3. automation moving a merchant out of a suspension, whoever set it ("once suspended for
//!    fraud, it stays" unless a person lifts it — Gumroad #2049, a balance rule moved a fraud
//!    suspension to probation);
//! 4. a verified merchant moved into a flagged or suspended state, by any event (lifting a
//!    probation back to a flag included: mark them compliant instead);
//! 5. a move the table does not list, and lifting a probation whose previous state is unknown
//!    (a merchant put on probation before the history existed): never a default (Gumroad #1884).
use serde::{Deserialize, Serialize};

pub use crate::app::dto::RiskState;

/// A reason is required from a person and bounded for everyone: 1 to this many characters
/// (Unicode scalar values) once trimmed.
pub const MAX_REASON_CHARS: usize = 1000;

/// A rule's name, a system job's name or a person's display name, as stored in the history.
pub const MAX_ACTOR_LABEL_CHARS: usize = 255;

/// What a reviewer, an admin or automation asks to do to a merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MerchantEvent {
    MarkCompliant,
    FlagForFraud,
    FlagForTosViolation,
    PutOnProbation,
    SuspendForFraud,
    SuspendForTosViolation,
    LiftProbation,
}

impl MerchantEvent {
    pub const ALL: [MerchantEvent; 7] = [
        MerchantEvent::MarkCompliant,
        MerchantEvent::FlagForFraud,
        MerchantEvent::FlagForTosViolation,
        MerchantEvent::PutOnProbation,
        MerchantEvent::SuspendForFraud,
        MerchantEvent::SuspendForTosViolation,
        MerchantEvent::LiftProbation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MerchantEvent::MarkCompliant => "mark_compliant",
            MerchantEvent::FlagForFraud => "flag_for_fraud",
            MerchantEvent::FlagForTosViolation => "flag_for_tos_violation",
            MerchantEvent::PutOnProbation => "put_on_probation",
            MerchantEvent::SuspendForFraud => "suspend_for_fraud",
            MerchantEvent::SuspendForTosViolation => "suspend_for_tos_violation",
            MerchantEvent::LiftProbation => "lift_probation",
        }
    }

    pub fn parse(value: &str) -> Option<MerchantEvent> {
        MerchantEvent::ALL.into_iter().find(|event| event.as_str() == value)
    }

    /// The action as a button names it.
    pub fn label(self) -> &'static str {
        match self {
            MerchantEvent::MarkCompliant => "Mark compliant",
            MerchantEvent::FlagForFraud => "Flag for fraud",
            MerchantEvent::FlagForTosViolation => "Flag for terms violation",
            MerchantEvent::PutOnProbation => "Put on probation",
            MerchantEvent::SuspendForFraud => "Suspend for fraud",
            MerchantEvent::SuspendForTosViolation => "Suspend for terms violation",
            MerchantEvent::LiftProbation => "Lift probation",
        }
    }

    /// Where the event leads; None for lifting a probation, which leads back to where the
    /// merchant was before it.
    pub fn target(self) -> Option<RiskState> {
        match self {
            MerchantEvent::MarkCompliant => Some(RiskState::Compliant),
            MerchantEvent::FlagForFraud => Some(RiskState::FlaggedForFraud),
            MerchantEvent::FlagForTosViolation => Some(RiskState::FlaggedForTosViolation),
            MerchantEvent::PutOnProbation => Some(RiskState::OnProbation),
            MerchantEvent::SuspendForFraud => Some(RiskState::SuspendedForFraud),
            MerchantEvent::SuspendForTosViolation => Some(RiskState::SuspendedForTosViolation),
            MerchantEvent::LiftProbation => None,
        }
    }

    /// The states the event may start from.
    pub fn sources(self) -> &'static [RiskState] {
        use RiskState::*;
        match self {
            MerchantEvent::MarkCompliant | MerchantEvent::PutOnProbation => &RiskState::ALL,
            MerchantEvent::FlagForFraud => &[NotReviewed, Compliant, FlaggedForTosViolation],
            MerchantEvent::FlagForTosViolation => &[NotReviewed, Compliant, FlaggedForFraud],
            MerchantEvent::SuspendForFraud => &[FlaggedForFraud, OnProbation],
            MerchantEvent::SuspendForTosViolation => &[FlaggedForTosViolation, OnProbation],
            MerchantEvent::LiftProbation => &[OnProbation],
        }
    }
}

/// A state as it reads inside a sentence: "they are {phrase}".
pub fn phrase(state: RiskState) -> &'static str {
    match state {
        RiskState::NotReviewed => "not reviewed",
        RiskState::Compliant => "compliant",
        RiskState::FlaggedForFraud => "flagged for fraud",
        RiskState::FlaggedForTosViolation => "flagged for a terms violation",
        RiskState::OnProbation => "on probation",
        RiskState::SuspendedForFraud => "suspended for fraud",
        RiskState::SuspendedForTosViolation => "suspended for a terms violation",
    }
}

fn is_flagged_or_suspended(state: RiskState) -> bool {
    matches!(state, RiskState::FlaggedForFraud | RiskState::FlaggedForTosViolation | RiskState::SuspendedForFraud | RiskState::SuspendedForTosViolation)
}

fn is_suspended(state: RiskState) -> bool {
    matches!(state, RiskState::SuspendedForFraud | RiskState::SuspendedForTosViolation)
}

/// Who or what makes a move; every history row names one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A reviewer or an admin, signed in; `name` is their display name at the time.
    Person { user_id: i32, name: String },
    /// A fraud rule, by its name.
    Rule { name: String },
    /// A background job (a reconciliation, an import), by what it is.
    System { what: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    Person,
    Rule,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Person => "person",
            ActorKind::Rule => "rule",
            ActorKind::System => "system",
        }
    }

    pub fn parse(value: &str) -> Option<ActorKind> {
        [ActorKind::Person, ActorKind::Rule, ActorKind::System].into_iter().find(|kind| kind.as_str() == value)
    }
}

impl Actor {
    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::Person { .. } => ActorKind::Person,
            Actor::Rule { .. } => ActorKind::Rule,
            Actor::System { .. } => ActorKind::System,
        }
    }

    pub fn is_person(&self) -> bool {
        self.kind() == ActorKind::Person
    }

    /// The person's name, the rule's name or the job's: what the history shows.
    pub fn label(&self) -> &str {
        match self {
            Actor::Person { name, .. } => name,
            Actor::Rule { name } => name,
            Actor::System { what } => what,
        }
    }

    pub fn user_id(&self) -> Option<i32> {
        match self {
            Actor::Person { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }
}

/// What [`decide`] needs to know besides the state and the event, read from the merchant and
/// the latest row of its history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransitionContext {
    pub verified: bool,
    /// The name of the person who put the merchant in its current state; None when automation
    /// did, or when the history does not say (a state set before the history existed).
    pub set_by_person: Option<String>,
    /// While on probation: the state the probation started from, when the history says.
    pub before_probation: Option<RiskState>,
}

/// Why a move is refused, in words for the reviewer who asked for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("The merchant is already {}.", phrase(*.0))]
    AlreadyInState(RiskState),
    #[error("Automation cannot move a merchant out of a state a person set ({} by {by}).", phrase(*state))]
    PersonDecision { state: RiskState, by: String },
    #[error("Only a person can move a merchant out of a suspension; they are {}.", phrase(*.0))]
    SuspensionNeedsPerson(RiskState),
    #[error("A verified merchant cannot be flagged or suspended.")]
    VerifiedMerchant,
    #[error("{} needs the merchant {}; they are {}.", event.label(), sources_phrase(*event), phrase(*from))]
    NotAllowed { event: MerchantEvent, from: RiskState },
    #[error("The state before this probation is not recorded; mark the merchant compliant or suspend them instead.")]
    NoStateBeforeProbation,
    #[error("A reason is required.")]
    ReasonRequired,
    #[error("A reason is at most {max} characters; this one has {chars}.", max = MAX_REASON_CHARS)]
    ReasonTooLong { chars: usize },
    #[error("Whoever makes a change is named in 1 to {max} characters.", max = MAX_ACTOR_LABEL_CHARS)]
    BadActorName,
}

/// "flagged for fraud or on probation", "not reviewed, compliant or flagged for fraud".
fn sources_phrase(event: MerchantEvent) -> String {
    let names: Vec<&str> = event.sources().iter().map(|s| phrase(*s)).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

/// The state `event` by `actor` moves a merchant in `current` to, or why it may not.
pub fn decide(current: RiskState, event: MerchantEvent, actor: &Actor, context: &TransitionContext) -> Result<RiskState, TransitionError> {
    let target = match event.target() {
        Some(target) => target,
        None if current != RiskState::OnProbation => return Err(TransitionError::NotAllowed { event, from: current }),
        None => context.before_probation.ok_or(TransitionError::NoStateBeforeProbation)?,
    };
    if target == current {
        return Err(TransitionError::AlreadyInState(current));
    }
    if !actor.is_person() {
        if let Some(by) = &context.set_by_person {
            return Err(TransitionError::PersonDecision { state: current, by: by.clone() });
        }
        if is_suspended(current) {
            return Err(TransitionError::SuspensionNeedsPerson(current));
        }
    }
    if context.verified && is_flagged_or_suspended(target) {
        return Err(TransitionError::VerifiedMerchant);
    }
    if !event.sources().contains(&current) {
        return Err(TransitionError::NotAllowed { event, from: current });
    }
    Ok(target)
}

/// The reason as it is stored: trimmed, None when there is none. A person must give one.
pub fn reason(actor: &Actor, raw: Option<&str>) -> Result<Option<String>, TransitionError> {
    let trimmed = raw.map(str::trim).filter(|r| !r.is_empty());
    let Some(text) = trimmed else {
        return if actor.is_person() { Err(TransitionError::ReasonRequired) } else { Ok(None) };
    };
    let chars = text.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(TransitionError::ReasonTooLong { chars });
    }
    Ok(Some(text.to_string()))
}

/// The actor as it is stored: a name of 1 to [`MAX_ACTOR_LABEL_CHARS`] characters, trimmed.
pub fn checked_actor(actor: &Actor) -> Result<Actor, TransitionError> {
    let label = actor.label().trim();
    if label.is_empty() || label.chars().count() > MAX_ACTOR_LABEL_CHARS {
        return Err(TransitionError::BadActorName);
    }
    let label = label.to_string();
    Ok(match actor {
        Actor::Person { user_id, .. } => Actor::Person { user_id: *user_id, name: label },
        Actor::Rule { .. } => Actor::Rule { name: label },
        Actor::System { .. } => Actor::System { what: label },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> Actor {
        Actor::Person { user_id: 1, name: "Ada Admin".into() }
    }

    fn rule() -> Actor {
        Actor::Rule { name: "High dispute rate".into() }
    }

    #[test]
    fn refusals_read_as_sentences() {
        let open = TransitionContext::default();
        let err = decide(RiskState::Compliant, MerchantEvent::SuspendForFraud, &ada(), &open).unwrap_err();
        assert_eq!(err.to_string(), "Suspend for fraud needs the merchant flagged for fraud or on probation; they are compliant.");
        let err = decide(RiskState::SuspendedForFraud, MerchantEvent::FlagForTosViolation, &ada(), &open).unwrap_err();
        assert_eq!(err.to_string(), "Flag for terms violation needs the merchant not reviewed, compliant or flagged for fraud; they are suspended for fraud.");
        let err = decide(RiskState::Compliant, MerchantEvent::LiftProbation, &ada(), &open).unwrap_err();
        assert_eq!(err.to_string(), "Lift probation needs the merchant on probation; they are compliant.");
        let err = decide(RiskState::Compliant, MerchantEvent::MarkCompliant, &ada(), &open).unwrap_err();
        assert_eq!(err.to_string(), "The merchant is already compliant.");
        let verified = TransitionContext { verified: true, ..open.clone() };
        let err = decide(RiskState::Compliant, MerchantEvent::FlagForFraud, &ada(), &verified).unwrap_err();
        assert_eq!(err.to_string(), "A verified merchant cannot be flagged or suspended.");
        let by_ada = TransitionContext { set_by_person: Some("Ada Admin".into()), ..open.clone() };
        let err = decide(RiskState::SuspendedForFraud, MerchantEvent::MarkCompliant, &rule(), &by_ada).unwrap_err();
        assert_eq!(err.to_string(), "Automation cannot move a merchant out of a state a person set (suspended for fraud by Ada Admin).");
        let err = decide(RiskState::SuspendedForFraud, MerchantEvent::PutOnProbation, &rule(), &open).unwrap_err();
        assert_eq!(err.to_string(), "Only a person can move a merchant out of a suspension; they are suspended for fraud.");
    }

    #[test]
    fn lifting_a_probation_returns_to_the_state_before_it() {
        let context = TransitionContext { before_probation: Some(RiskState::FlaggedForTosViolation), ..TransitionContext::default() };
        assert_eq!(decide(RiskState::OnProbation, MerchantEvent::LiftProbation, &ada(), &context), Ok(RiskState::FlaggedForTosViolation));
        let unknown = TransitionContext::default();
        assert_eq!(decide(RiskState::OnProbation, MerchantEvent::LiftProbation, &ada(), &unknown), Err(TransitionError::NoStateBeforeProbation));
    }

    #[test]
    fn a_reason_is_trimmed_required_from_a_person_and_bounded_for_everyone() {
        assert_eq!(reason(&ada(), Some("  chargebacks from one card  ")), Ok(Some("chargebacks from one card".into())));
        assert_eq!(reason(&ada(), None), Err(TransitionError::ReasonRequired));
        assert_eq!(reason(&ada(), Some(" \n\t ")), Err(TransitionError::ReasonRequired));
        assert_eq!(reason(&rule(), None), Ok(None));
        // Characters, not bytes: 1,000 two-byte characters (plus surrounding blanks) fit.
        let at_bound = format!(" {} ", "é".repeat(MAX_REASON_CHARS));
        assert_eq!(reason(&ada(), Some(&at_bound)).unwrap().unwrap().chars().count(), MAX_REASON_CHARS);
        let over = "x".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(reason(&ada(), Some(&over)), Err(TransitionError::ReasonTooLong { chars: MAX_REASON_CHARS + 1 }));
        assert_eq!(reason(&rule(), Some(&over)), Err(TransitionError::ReasonTooLong { chars: MAX_REASON_CHARS + 1 }));
        assert_eq!(reason(&ada(), Some(&over)).unwrap_err().to_string(), "A reason is at most 1000 characters; this one has 1001.");
    }

    #[test]
    fn an_actor_is_named() {
        assert_eq!(checked_actor(&Actor::Rule { name: "  Velocity  ".into() }), Ok(Actor::Rule { name: "Velocity".into() }));
        assert_eq!(checked_actor(&Actor::System { what: " ".into() }), Err(TransitionError::BadActorName));
        let long = Actor::Person { user_id: 1, name: "n".repeat(MAX_ACTOR_LABEL_CHARS + 1) };
        assert_eq!(checked_actor(&long), Err(TransitionError::BadActorName));
    }

    #[test]
    fn names_round_trip() {
        for event in MerchantEvent::ALL {
            assert_eq!(MerchantEvent::parse(event.as_str()), Some(event));
        }
        for kind in [ActorKind::Person, ActorKind::Rule, ActorKind::System] {
            assert_eq!(ActorKind::parse(kind.as_str()), Some(kind));
        }
    }
}
