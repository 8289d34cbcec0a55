//! Small pieces the queue and the case page share: ages, SLA colours and badges (text and colour,
//! never colour alone; one colour per family, as ../shared/UI.md asks).
use leptos::prelude::*;

use crate::app::dto::{CaseState, RiskState, SlaState};

/// "12 min", "3 h", "2 d".
pub fn age_text(minutes: i64) -> String {
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h", m / 60),
        m => format!("{} d", m / (24 * 60)),
    }
}

pub fn sla_class(sla: SlaState) -> &'static str {
    match sla {
        SlaState::OnTime => "bg-emerald-50 text-emerald-900 ring-1 ring-emerald-200",
        SlaState::DueSoon => "bg-amber-50 text-amber-900 ring-1 ring-amber-300",
        SlaState::Late => "bg-rose-50 text-rose-900 ring-1 ring-rose-300",
    }
}

pub fn sla_label(sla: SlaState) -> &'static str {
    match sla {
        SlaState::OnTime => "on time",
        SlaState::DueSoon => "due within the hour",
        SlaState::Late => "past the SLA",
    }
}

/// The actions of the merchant risk state machine a person may choose, by event name (the
/// server refuses those not allowed from the merchant's state, saying why).
pub const MERCHANT_ACTIONS: &[(&str, &str)] = &[
    ("mark_compliant", "Mark compliant"),
    ("flag_for_fraud", "Flag for fraud"),
    ("flag_for_tos_violation", "Flag for terms violation"),
    ("put_on_probation", "Put on probation (pause payouts)"),
    ("lift_probation", "Lift probation"),
    ("suspend_for_fraud", "Suspend for fraud"),
    ("suspend_for_tos_violation", "Suspend for terms violation"),
];

const BADGE: &str = "inline-flex items-center whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ring-1";

/// The merchant's risk state: flagged amber, probation orange, suspended red, compliant green,
/// not reviewed slate.
pub fn risk_badge(state: RiskState) -> impl IntoView {
    let colour = match state {
        RiskState::NotReviewed => "bg-slate-50 text-slate-800 ring-slate-300",
        RiskState::Compliant => "bg-emerald-50 text-emerald-900 ring-emerald-200",
        RiskState::FlaggedForFraud | RiskState::FlaggedForTosViolation => "bg-amber-50 text-amber-900 ring-amber-300",
        RiskState::OnProbation => "bg-orange-50 text-orange-900 ring-orange-300",
        RiskState::SuspendedForFraud | RiskState::SuspendedForTosViolation => "bg-rose-50 text-rose-900 ring-rose-300",
    };
    view! { <span class=format!("{BADGE} {colour}") data-risk-state=state.as_str()>{state.label()}</span> }
}

/// The case's place: open, claimed by whom, escalated, resolved with its disposition.
pub fn state_badge(state: &CaseState, escalated: bool) -> impl IntoView {
    let (text, colour) = match state {
        CaseState::Open if escalated => ("Escalated".to_string(), "bg-violet-50 text-violet-900 ring-violet-300"),
        CaseState::Open => ("Open".to_string(), "bg-sky-50 text-sky-900 ring-sky-200"),
        CaseState::Claimed { claim } => (format!("Claimed by {}", claim.name), "bg-indigo-50 text-indigo-900 ring-indigo-200"),
        CaseState::Resolved { disposition } => (format!("Resolved: {}", disposition.label()), "bg-slate-100 text-slate-800 ring-slate-300"),
    };
    let escalated_too = escalated && !matches!(state, CaseState::Open);
    view! {
        <span class=format!("{BADGE} {colour}") data-testid="case-state">{text}</span>
        {escalated_too.then(|| view! { <span class=format!("{BADGE} ml-1 bg-violet-50 text-violet-900 ring-violet-300")>"Escalated"</span> })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age_text(0), "0 min");
        assert_eq!(age_text(59), "59 min");
        assert_eq!(age_text(60), "1 h");
        assert_eq!(age_text(47 * 60 + 59), "47 h");
        assert_eq!(age_text(48 * 60), "2 d");
    }
}

/// The options of an "Assign to" select, from what the assignees server function answered.
pub fn assignee_options(people: Option<Result<Vec<crate::app::dto::Assignee>, crate::app::error::AppError>>) -> AnyView {
    match people {
        Some(Ok(people)) => people
            .into_iter()
            .map(|p| {
                let label = if p.admin { format!("{} (admin)", p.name) } else { p.name };
                view! { <option value=p.user_id.to_string()>{label}</option> }
            })
            .collect_view()
            .into_any(),
        Some(Err(e)) => view! { <option value="" disabled=true>{e.to_string()}</option> }.into_any(),
        None => view! { <option value="" disabled=true>"Loading…"</option> }.into_any(),
    }
}
