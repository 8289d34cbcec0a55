//! The rules console, `/admin/rules` (admins): the live ruleset, one draft edited rule by rule
//! with a checking editor, "test" on a transaction beside the live rules, publish with a note,
//! roll back with a reason, and every version with a diff between any two and who did what.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::admin::{
    backtest, cancel_backtest, check_expression, publish_ruleset, rollback_ruleset, rule_schema, rule_stats, ruleset_history, ruleset_versions,
    save_ruleset_draft, start_backtest, test_rules,
};
use crate::app::components::cel_editor::CelEditor;
use crate::app::components::layout::RequireRole;
use crate::app::dto::{
    group_thousands, short_utc, AuditEventView, BacktestReport, BacktestResult, Role, RuleEffectSpec, RuleModeSpec, RuleProblem, RuleResultView, RuleSchema,
    RuleSpec, RuleStat, RuleStats, RuleTrial, RulesetDraft, RulesetStatus, RulesetVersion, TrialSide, TrialSubject,
};
use crate::app::rule_text::{diff, RuleChange};

const PRIMARY: &str = "rounded-md bg-indigo-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:ring-offset-2 disabled:opacity-50";
const SECONDARY: &str = "rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 disabled:opacity-50";
const SMALL: &str = "rounded border border-slate-300 bg-white px-2 py-0.5 text-xs font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600 disabled:opacity-40";
const FIELD: &str =
    "mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600";
const SECTION: &str = "rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5";
/// How long the editor waits after the last key before checking the expression.
const CHECK_AFTER_MS: u64 = 300;

#[component]
pub fn RulesPage() -> impl IntoView {
    view! {
        <Title text="Rules" />
        <RequireRole roles=&[Role::Admin]>
            <RulesConsole />
        </RequireRole>
    }
}

/// The draft being edited in this browser: its rules as on screen, the saved draft it came
/// from (version and revision; 0 when none was saved yet) and whether it has unsaved changes.
#[derive(Debug, Clone, PartialEq)]
struct Working {
    draft: RulesetDraft,
    version: Option<i32>,
    revision: i32,
    dirty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialog {
    Publish(i32),
    Rollback,
}

fn published_of(versions: &[RulesetVersion]) -> Option<RulesetVersion> {
    versions.iter().find(|v| v.status == RulesetStatus::Published).cloned()
}

fn draft_of(versions: &[RulesetVersion]) -> Option<RulesetVersion> {
    versions.iter().find(|v| v.status == RulesetStatus::Draft).cloned()
}

/// The version a rollback would put live: the last one live before the current.
fn rollback_target(versions: &[RulesetVersion]) -> Option<RulesetVersion> {
    versions.iter().filter(|v| v.status == RulesetStatus::Retired && v.published_at.is_some()).max_by(|a, b| a.published_at.cmp(&b.published_at)).cloned()
}

#[component]
fn RulesConsole() -> impl IntoView {
    let versions = Resource::new(|| (), |_| ruleset_versions());
    let history = Resource::new(|| (), |_| ruleset_history());
    let stats = Resource::new(|| (), |_| rule_stats());
    let schema_source = Resource::new(|| (), |_| rule_schema());
    let schema = Signal::derive(move || schema_source.get().and_then(Result::ok).unwrap_or_default());
    let working = RwSignal::new(None::<Working>);
    let editing = RwSignal::new(None::<usize>);
    let dialog = RwSignal::new(None::<Dialog>);
    let status_line = RwSignal::new(String::new());
    let save_problems = RwSignal::new(Vec::<RuleProblem>::new());

    let refresh = move || {
        versions.refetch();
        history.refetch();
    };
    let save = Action::new(move |(draft, revision): &(RulesetDraft, i32)| save_ruleset_draft(draft.clone(), Some(*revision)));
    Effect::new(move |_| match save.value().get() {
        Some(Ok(saved)) => {
            save_problems.set(Vec::new());
            working.update(|w| {
                if let Some(w) = w {
                    w.version = Some(saved.version);
                    w.revision = saved.revision;
                    w.dirty = false;
                }
            });
            status_line.set(format!("Saved draft version {}, revision {}.", saved.version, saved.revision));
            refresh();
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });
    let publish = Action::new(move |(version, note): &(i32, String)| publish_ruleset(*version, note.clone()));
    Effect::new(move |_| match publish.value().get() {
        Some(Ok(live)) => {
            dialog.set(None);
            working.set(None);
            editing.set(None);
            status_line.set(format!("Version {} is live: every instance decides with it within a second.", live.version));
            refresh();
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });
    let rollback = Action::new(move |reason: &String| rollback_ruleset(reason.clone()));
    Effect::new(move |_| match rollback.value().get() {
        Some(Ok(live)) => {
            dialog.set(None);
            status_line.set(format!("Rolled back: version {} is live again.", live.version));
            refresh();
        }
        Some(Err(e)) => status_line.set(e.to_string()),
        None => {}
    });

    // Whether a draft is open here: the editor's frame depends on this alone, not on each edit.
    let has_working = Memo::new(move |_| working.with(Option::is_some));
    // What the test panel and the rollback dialog need of the versions, copied when they load
    // (an effect: a resource is read only inside <Transition> or an effect, or hydration breaks).
    let live_draft = RwSignal::new(None::<RulesetDraft>);
    let target = RwSignal::new(None::<RulesetVersion>);
    // The saved draft's (version, revision): what a backtest runs on.
    let saved = RwSignal::new(None::<(i32, i32)>);
    Effect::new(move |_| {
        if let Some(Ok(all)) = versions.get() {
            live_draft.set(published_of(&all).map(|l| l.draft));
            target.set(rollback_target(&all));
            saved.set(draft_of(&all).map(|d| (d.version, d.revision)));
        }
    });
    let latest_backtest = RwSignal::new(None::<BacktestReport>);

    view! {
        <div class="flex flex-wrap items-baseline justify-between gap-2">
            <h1 class="text-2xl font-semibold">"Fraud rules"</h1>
            <p class="text-sm text-slate-700">"Write and check a draft, test it on a transaction, publish it with a note."</p>
        </div>
        <p role="status" class="mt-2 min-h-5 text-sm text-slate-800" data-testid="rules-status">{move || status_line.get()}</p>
        <Transition fallback=|| view! { <p class="text-sm text-slate-600">"Loading the ruleset…"</p> }>
            {move || Suspend::new(async move {
                // Hit counts are a nicety: without them the rules still show.
                let stats = stats.await.unwrap_or_default();
                match versions.await {
                    Err(e) => view! { <p role="alert" class="text-sm text-rose-900">{e.to_string()}</p> }.into_any(),
                    Ok(all) => {
                        let live = published_of(&all);
                        let saved_draft = draft_of(&all);
                        let can_roll_back = rollback_target(&all).is_some();
                        let live_rules = live.clone();
                        view! {
                            <LiveHeader live=live saved_draft=saved_draft working=working editing=editing dialog=dialog can_roll_back=can_roll_back />
                            {move || (!has_working.get()).then(|| match live_rules.clone() {
                                Some(l) => view! { <RulesTable draft=l.draft stats=stats.clone() /> }.into_any(),
                                None => view! {
                                    <p class="mt-4 text-sm text-slate-700">"No ruleset is live: every transaction is allowed. Start a draft to write the first rules."</p>
                                }.into_any(),
                            })}
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
        {move || has_working.get().then(|| view! { <DraftEditor working=working editing=editing schema=schema save=save dialog=dialog save_problems=save_problems status_line=status_line /> })}
        <TestPanel working=working live=live_draft.into() />
        <BacktestPanel working=working saved=saved.into() report=latest_backtest />
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                versions.await.ok().map(|all| view! { <VersionsPanel all=all history=history /> })
            })}
        </Transition>
        <DialogView dialog=dialog working=working target=target.into() publish=publish rollback=rollback latest_backtest=latest_backtest.into() />
    }
}

#[component]
fn LiveHeader(
    live: Option<RulesetVersion>,
    saved_draft: Option<RulesetVersion>,
    working: RwSignal<Option<Working>>,
    editing: RwSignal<Option<usize>>,
    dialog: RwSignal<Option<Dialog>>,
    can_roll_back: bool,
) -> impl IntoView {
    // Full dates: the same on the server and in the browser (which has no clock in Rust here).
    let today = String::new();
    let summary = live.as_ref().map(|l| {
        format!(
            "Version {} · published {} by {} · review at score ≥ {} · block at ≥ {}",
            l.version,
            l.published_at.as_deref().map(|t| short_utc(t, &today)).unwrap_or_default(),
            l.created_by,
            l.draft.review_score,
            l.draft.block_score
        )
    });
    let note = live.as_ref().map(|l| l.note.clone()).filter(|n| !n.is_empty());
    let start_label = match &saved_draft {
        Some(d) => format!("Continue draft version {} (revision {})", d.version, d.revision),
        None => match &live {
            Some(l) => format!("New draft from version {}", l.version),
            None => "New draft".to_string(),
        },
    };
    let idle = Memo::new(move |_| working.with(Option::is_none));
    let start = move |_| {
        let w = match (&saved_draft, &live) {
            (Some(d), _) => Working { draft: d.draft.clone(), version: Some(d.version), revision: d.revision, dirty: false },
            (None, Some(l)) => Working { draft: RulesetDraft { note: String::new(), ..l.draft.clone() }, version: None, revision: 0, dirty: false },
            (None, None) => Working {
                draft: RulesetDraft { review_score: 50.0, block_score: 90.0, rules: Vec::new(), note: String::new() },
                version: None,
                revision: 0,
                dirty: false,
            },
        };
        editing.set(None);
        working.set(Some(w));
    };
    view! {
        <section class=format!("{SECTION} mt-2") aria-labelledby="live-heading">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <h2 id="live-heading" class="text-base font-semibold text-slate-900">"Live ruleset"</h2>
                    <p class="mt-1 text-sm text-slate-700" data-testid="live-summary">{summary.unwrap_or_else(|| "Nothing published yet.".into())}</p>
                    {note.map(|n| view! { <p class="mt-1 text-sm text-slate-600">"Note: " {n}</p> })}
                </div>
                <div class="flex flex-wrap gap-2">
                    {move || idle.get().then(|| view! {
                        <button type="button" class=PRIMARY on:click=start.clone() data-testid="start-draft">{start_label.clone()}</button>
                    })}
                    <button type="button" class=SECONDARY disabled=!can_roll_back on:click=move |_| dialog.set(Some(Dialog::Rollback)) title=if can_roll_back { "" } else { "No earlier version was live" }>
                        "Roll back…"
                    </button>
                </div>
            </div>
        </section>
    }
}

fn effect_badge(effect: RuleEffectSpec) -> impl IntoView {
    let (label, class) = match effect {
        RuleEffectSpec::Allow => ("allow".to_string(), "bg-emerald-50 text-emerald-800 ring-emerald-200"),
        RuleEffectSpec::Review => ("review".to_string(), "bg-amber-50 text-amber-900 ring-amber-200"),
        RuleEffectSpec::Block => ("block".to_string(), "bg-rose-50 text-rose-800 ring-rose-200"),
        RuleEffectSpec::Score(points) => (format!("score {points:+}"), "bg-slate-100 text-slate-800 ring-slate-200"),
    };
    view! { <span class=format!("inline-block whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ring-1 {class}")>{label}</span> }
}

fn mode_text(mode: RuleModeSpec) -> &'static str {
    match mode {
        RuleModeSpec::Live => "live",
        RuleModeSpec::Shadow => "shadow",
    }
}

/// A rule's daily hits as a line (inline SVG, drawn on the server), scaled to its own peak.
fn sparkline(daily: &[u64]) -> impl IntoView {
    let peak = daily.iter().copied().max().unwrap_or(0).max(1) as f64;
    let (width, height) = (90.0, 20.0);
    let step = if daily.len() > 1 { width / (daily.len() - 1) as f64 } else { 0.0 };
    let points = daily
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{:.1},{:.1}", i as f64 * step, height - 1.0 - (*n as f64 / peak) * (height - 2.0)))
        .collect::<Vec<_>>()
        .join(" ");
    let label = format!("Daily hits over 30 days, peak {}", daily.iter().max().copied().unwrap_or(0));
    view! {
        <svg viewBox="0 0 90 20" width="90" height="20" class="text-indigo-600" role="img" aria-label=label>
            <polyline points=points fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" />
        </svg>
    }
}

/// Hits, the sparkline and precision of one rule over the last 30 days.
fn rule_stat_cell(stat: Option<RuleStat>, days: usize) -> impl IntoView {
    let stat = stat.unwrap_or_else(|| RuleStat { rule: String::new(), hits: 0, daily: vec![0; days], fraud: 0, legit: 0 });
    let precision = match stat.precision() {
        Some(p) => format!("precision {:.0} % of {}", p * 100.0, group_thousands(stat.fraud + stat.legit)),
        None => "no labels yet".to_string(),
    };
    view! {
        <div class="text-xs text-slate-700" data-testid="rule-stats">
            <div class="flex items-center gap-2">
                <span class="font-medium tabular-nums text-slate-900">{format!("{} hits", group_thousands(stat.hits))}</span>
                {sparkline(&stat.daily)}
            </div>
            <p>{precision}</p>
        </div>
    }
}

/// The rules of a version, read-only: a table at 1280 px, stacked cards at 390 px; beside each,
/// its last 30 days (hits, a sparkline, precision against reviewers' labels).
#[component]
fn RulesTable(draft: RulesetDraft, stats: RuleStats) -> impl IntoView {
    let count = draft.rules.len();
    let days = stats.days.len().max(1);
    let through = stats.through.clone().map(|t| format!("Last 30 days, counted up to {}.", short_utc(&t, "")));
    let stats = StoredValue::new(stats.rules);
    view! {
        <section class=format!("{SECTION} mt-4") aria-labelledby="rules-heading">
            <h2 id="rules-heading" class="text-base font-semibold text-slate-900">{format!("Rules ({count})")}</h2>
            <p class="text-xs text-slate-600">{through.unwrap_or_else(|| "Hit counts appear within a minute of the first decisions.".into())}</p>
            <ol class="mt-3 divide-y divide-slate-100" data-testid="live-rules">
                {draft
                    .rules
                    .into_iter()
                    .enumerate()
                    .map(|(i, rule)| {
                        view! {
                            <li class="grid gap-1 py-2 md:grid-cols-[2rem_minmax(0,14rem)_6rem_4rem_9rem_minmax(0,1fr)] md:items-baseline md:gap-3">
                                <span class="text-xs text-slate-500 tabular-nums">{i + 1}</span>
                                <div class="min-w-0">
                                    <p class="font-medium text-slate-900">
                                        {rule.name.clone()}
                                        {(!rule.enabled).then(|| view! { <span class="ml-2 text-xs font-normal text-slate-600">"(disabled)"</span> })}
                                    </p>
                                    <p class="text-xs text-slate-600">{rule.description.clone()}</p>
                                </div>
                                <span>{effect_badge(rule.effect)}</span>
                                <span class="text-xs text-slate-700">{mode_text(rule.mode)}</span>
                                {rule_stat_cell(stats.with_value(|all| all.iter().find(|s| s.rule == rule.name).cloned()), days)}
                                <code class="block whitespace-pre-wrap break-all rounded bg-slate-50 px-2 py-1 font-mono text-xs text-slate-800">{rule.expression.clone()}</code>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn DraftEditor(
    working: RwSignal<Option<Working>>,
    editing: RwSignal<Option<usize>>,
    schema: Signal<RuleSchema>,
    save: Action<(RulesetDraft, i32), Result<RulesetVersion, crate::app::error::AppError>>,
    dialog: RwSignal<Option<Dialog>>,
    save_problems: RwSignal<Vec<RuleProblem>>,
    status_line: RwSignal<String>,
) -> impl IntoView {
    let edit = move |f: &dyn Fn(&mut RulesetDraft)| {
        working.update(|w| {
            if let Some(w) = w {
                f(&mut w.draft);
                w.dirty = true;
            }
        })
    };
    let rules = move || working.with(|w| w.as_ref().map(|w| w.draft.rules.clone()).unwrap_or_default());
    let heading = move || {
        working.with(|w| match w {
            Some(Working { version: Some(v), revision, dirty, .. }) => {
                format!("Draft version {v}, revision {revision}{}", if *dirty { " — unsaved changes" } else { "" })
            }
            Some(Working { dirty, .. }) => format!("New draft{}", if *dirty { " — unsaved changes" } else { " (not saved yet)" }),
            None => String::new(),
        })
    };
    let threshold = move |which: &'static str| {
        move || working.with(|w| w.as_ref().map(|w| if which == "review" { w.draft.review_score } else { w.draft.block_score }).unwrap_or_default().to_string())
    };
    let set_threshold = move |which: &'static str, text: String| match text.trim().parse::<f64>() {
        Ok(n) => edit(&|d| if which == "review" { d.review_score = n } else { d.block_score = n }),
        Err(_) => status_line.set(format!("The {which} threshold is a number, e.g. 50.")),
    };
    let add_rule = move |_| {
        let mut index = 0;
        edit(&|d| {
            let mut n = d.rules.len() + 1;
            while d.rules.iter().any(|r| r.name == format!("New rule {n}")) {
                n += 1;
            }
            d.rules.push(RuleSpec {
                name: format!("New rule {n}"),
                description: String::new(),
                expression: String::new(),
                effect: RuleEffectSpec::Review,
                enabled: true,
                mode: RuleModeSpec::Live,
            });
        });
        working.with_untracked(|w| index = w.as_ref().map_or(0, |w| w.draft.rules.len().saturating_sub(1)));
        editing.set(Some(index));
    };
    let move_rule = move |from: usize, to: usize| {
        edit(&|d| {
            if to < d.rules.len() {
                d.rules.swap(from, to);
            }
        });
        if editing.get_untracked() == Some(from) {
            editing.set(Some(to));
        }
    };
    let delete_rule = move |index: usize| {
        edit(&|d| {
            if index < d.rules.len() {
                d.rules.remove(index);
            }
        });
        editing.set(None);
        status_line.set("Rule deleted from the draft (save to keep the change).".into());
    };
    let save_now = move || {
        let Some(w) = working.get_untracked() else { return };
        save.dispatch((w.draft, w.revision));
    };
    let discard = move |_| {
        working.set(None);
        editing.set(None);
        status_line.set("Unsaved changes discarded.".into());
    };
    // The form is rebuilt when another rule is opened, never by an edit.
    let editing_rule = Memo::new(move |_| editing.get());
    let publishable = move || working.with(|w| w.as_ref().and_then(|w| (!w.dirty).then_some(w.version).flatten()));

    view! {
        <section class=format!("{SECTION} mt-4") aria-labelledby="draft-heading" data-testid="draft-editor">
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 id="draft-heading" class="text-base font-semibold text-slate-900">{heading}</h2>
                <div class="flex flex-wrap items-end gap-3 text-sm">
                    <label class="text-slate-700">
                        "Review at score ≥"
                        <input type="number" step="any" class=format!("{FIELD} w-24") prop:value=threshold("review") on:change=move |ev| set_threshold("review", event_target_value(&ev)) />
                    </label>
                    <label class="text-slate-700">
                        "Block at ≥"
                        <input type="number" step="any" class=format!("{FIELD} w-24") prop:value=threshold("block") on:change=move |ev| set_threshold("block", event_target_value(&ev)) />
                    </label>
                </div>
            </div>
            <ol class="mt-3 divide-y divide-slate-100" data-testid="draft-rules">
                {move || {
                    let all = rules();
                    let last = all.len().saturating_sub(1);
                    all.into_iter()
                        .enumerate()
                        .map(|(i, rule)| {
                            let name = rule.name.clone();
                            view! {
                                <li class="py-2">
                                    <div class="grid gap-1 md:grid-cols-[2rem_minmax(0,16rem)_7rem_5rem_minmax(0,1fr)_auto] md:items-baseline md:gap-3">
                                        <span class="text-xs text-slate-500 tabular-nums">{i + 1}</span>
                                        <p class="min-w-0 font-medium text-slate-900">
                                            {rule.name.clone()}
                                            {(!rule.enabled).then(|| view! { <span class="ml-2 text-xs font-normal text-slate-600">"(disabled)"</span> })}
                                        </p>
                                        <span>{effect_badge(rule.effect)}</span>
                                        <span class="text-xs text-slate-700">{mode_text(rule.mode)}</span>
                                        <code class="block whitespace-pre-wrap break-all rounded bg-slate-50 px-2 py-1 font-mono text-xs text-slate-800">{rule.expression.clone()}</code>
                                        <div class="flex gap-1">
                                            <button type="button" class=SMALL on:click=move |_| editing.set(if editing.get_untracked() == Some(i) { None } else { Some(i) }) aria-expanded=move || (editing.get() == Some(i)).to_string() aria-label=format!("Edit {name}")>
                                                "Edit"
                                            </button>
                                            <button type="button" class=SMALL disabled=i == 0 on:click=move |_| move_rule(i, i.wrapping_sub(1)) aria-label=format!("Move {} up", rule.name)>"↑"</button>
                                            <button type="button" class=SMALL disabled=i == last on:click=move |_| move_rule(i, i + 1) aria-label=format!("Move {} down", rule.name)>"↓"</button>
                                            <button type="button" class=format!("{SMALL} text-rose-800") on:click=move |_| delete_rule(i) aria-label=format!("Delete {}", rule.name)>"Delete"</button>
                                        </div>
                                    </div>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ol>
            {move || editing_rule.get().map(|i| view! { <RuleForm index=i working=working schema=schema editing=editing /> })}
            <button type="button" class=format!("{SECONDARY} mt-2") on:click=add_rule data-testid="add-rule">"Add rule"</button>
            <div class="mt-4 border-t border-slate-100 pt-3">
                <label class="block text-sm text-slate-700">
                    "Note: what changed and why"
                    <input
                        type="text"
                        maxlength="500"
                        class=FIELD
                        prop:value=move || working.with(|w| w.as_ref().map(|w| w.draft.note.clone()).unwrap_or_default())
                        on:input=move |ev| {
                            let note = event_target_value(&ev);
                            edit(&|d| d.note = note.clone());
                        }
                    />
                </label>
                <ul class="mt-2 space-y-0.5 text-sm text-rose-800">{move || save_problems.get().into_iter().map(|p| view! { <li>{p.message}</li> }).collect_view()}</ul>
                <div class="mt-3 flex flex-wrap gap-2">
                    <button type="button" class=PRIMARY on:click=move |_| save_now() disabled=move || save.pending().get() data-testid="save-draft">
                        {move || if save.pending().get() { "Saving…" } else { "Save draft" }}
                    </button>
                    <button
                        type="button"
                        class=SECONDARY
                        disabled=move || publishable().is_none()
                        title=move || if publishable().is_none() { "Save the draft first" } else { "" }
                        on:click=move |_| {
                            if let Some(v) = publishable() {
                                dialog.set(Some(Dialog::Publish(v)));
                            }
                        }
                        data-testid="publish"
                    >
                        "Publish…"
                    </button>
                    <button type="button" class=SECONDARY on:click=discard>"Close without saving"</button>
                </div>
            </div>
        </section>
    }
}

/// One rule's fields; every change goes into the working draft at once (saving is separate).
#[component]
fn RuleForm(index: usize, working: RwSignal<Option<Working>>, schema: Signal<RuleSchema>, editing: RwSignal<Option<usize>>) -> impl IntoView {
    let rule = working.with_untracked(|w| w.as_ref().and_then(|w| w.draft.rules.get(index).cloned())).unwrap_or(RuleSpec {
        name: String::new(),
        description: String::new(),
        expression: String::new(),
        effect: RuleEffectSpec::Review,
        enabled: true,
        mode: RuleModeSpec::Live,
    });
    let update = move |f: Box<dyn Fn(&mut RuleSpec)>| {
        working.update(|w| {
            if let Some(r) = w.as_mut().and_then(|w| w.draft.rules.get_mut(index)) {
                f(r);
                if let Some(w) = w {
                    w.dirty = true;
                }
            }
        })
    };
    let expression = RwSignal::new(rule.expression.clone());
    let problems = RwSignal::new(Vec::<RuleProblem>::new());
    let checked = Action::new(move |text: &String| check_expression(text.clone()));
    // Only the answer to the latest text counts: an older check may come back later.
    Effect::new(move |_| {
        if let Some(Ok(found)) = checked.value().get() {
            if checked.input().get_untracked().is_none() {
                problems.set(found);
            }
        }
    });
    let timer = StoredValue::new(None::<leptos::prelude::TimeoutHandle>);
    Effect::new(move |first: Option<()>| {
        let text = expression.get();
        let stored = working.with_untracked(|w| w.as_ref().and_then(|w| w.draft.rules.get(index).map(|r| r.expression.clone())));
        if stored.as_deref() != Some(text.as_str()) {
            let text = text.clone();
            update(Box::new(move |r: &mut RuleSpec| r.expression = text.clone()));
        }
        if let Some(handle) = timer.get_value() {
            handle.clear();
        }
        let delay = if first.is_none() { 0 } else { CHECK_AFTER_MS };
        let handle = set_timeout_with_handle(
            move || {
                checked.dispatch(text.clone());
            },
            std::time::Duration::from_millis(delay),
        )
        .ok();
        timer.set_value(handle);
    });
    let (effect_kind, points) = match rule.effect {
        RuleEffectSpec::Allow => ("allow", 0.0),
        RuleEffectSpec::Review => ("review", 0.0),
        RuleEffectSpec::Block => ("block", 0.0),
        RuleEffectSpec::Score(p) => ("score", p),
    };
    let effect_kind = RwSignal::new(effect_kind.to_string());
    let points = RwSignal::new(points.to_string());
    let apply_effect = move || {
        let effect = match effect_kind.get_untracked().as_str() {
            "allow" => RuleEffectSpec::Allow,
            "block" => RuleEffectSpec::Block,
            "score" => RuleEffectSpec::Score(points.get_untracked().trim().parse().unwrap_or(f64::NAN)),
            _ => RuleEffectSpec::Review,
        };
        update(Box::new(move |r: &mut RuleSpec| r.effect = effect));
    };
    let name_field = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(field) = name_field.get() {
            let _ = field.focus();
        }
    });
    let id = |what: &str| format!("rule-{index}-{what}");
    view! {
        <div class="mt-2 rounded-lg border border-indigo-200 bg-indigo-50/40 p-3" data-testid="rule-form" role="group" aria-label=format!("Rule {}", index + 1)>
            <div class="mb-2 flex items-baseline justify-between">
                <h3 class="text-sm font-semibold text-slate-900">{format!("Rule {}", index + 1)}</h3>
                <button type="button" class=SMALL on:click=move |_| editing.set(None)>"Done"</button>
            </div>
            <div class="grid gap-3 md:grid-cols-2">
                <label class="block text-sm text-slate-700">
                    "Name"
                    <input node_ref=name_field type="text" maxlength="100" class=FIELD prop:value=rule.name.clone() on:input=move |ev| {
                        let v = event_target_value(&ev);
                        update(Box::new(move |r: &mut RuleSpec| r.name = v.clone()));
                    } />
                </label>
                <label class="block text-sm text-slate-700">
                    "Description (shown in explanations)"
                    <input type="text" maxlength="500" class=FIELD prop:value=rule.description.clone() on:input=move |ev| {
                        let v = event_target_value(&ev);
                        update(Box::new(move |r: &mut RuleSpec| r.description = v.clone()));
                    } />
                </label>
            </div>
            <div class="mt-3 flex flex-wrap items-end gap-3">
                <label class="block text-sm text-slate-700">
                    "Effect"
                    <select class=FIELD prop:value=move || effect_kind.get() on:change=move |ev| {
                        effect_kind.set(event_target_value(&ev));
                        apply_effect();
                    }>
                        <option value="allow">"allow"</option>
                        <option value="review">"review"</option>
                        <option value="block">"block"</option>
                        <option value="score">"add to score"</option>
                    </select>
                </label>
                {move || (effect_kind.get() == "score").then(|| view! {
                    <label class="block text-sm text-slate-700">
                        "Points (−1000 to 1000)"
                        <input type="number" step="any" class=format!("{FIELD} w-28") prop:value=move || points.get() on:input=move |ev| {
                            points.set(event_target_value(&ev));
                            apply_effect();
                        } />
                    </label>
                })}
                <label class="block text-sm text-slate-700">
                    "Mode"
                    <select class=FIELD prop:value=mode_text(rule.mode) on:change=move |ev| {
                        let mode = if event_target_value(&ev) == "shadow" { RuleModeSpec::Shadow } else { RuleModeSpec::Live };
                        update(Box::new(move |r: &mut RuleSpec| r.mode = mode));
                    }>
                        <option value="live">"live: acts on transactions"</option>
                        <option value="shadow">"shadow: recorded, never acts"</option>
                    </select>
                </label>
                <label class="flex items-center gap-2 pb-2 text-sm text-slate-700">
                    <input type="checkbox" prop:checked=rule.enabled on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        update(Box::new(move |r: &mut RuleSpec| r.enabled = on));
                    } />
                    "Enabled"
                </label>
            </div>
            <label for=id("expression") class="mt-3 block text-sm text-slate-700">
                "Condition (CEL) — Ctrl+Space completes fields, functions and list names"
            </label>
            <div class="mt-1">
                <CelEditor value=expression problems=problems schema=schema id=id("expression") />
            </div>
            <p class="mt-1 text-xs text-slate-600">
                {move || if checked.pending().get() { "Checking…" } else if problems.with(Vec::is_empty) && !expression.with(String::is_empty) { "The condition checks: it is a boolean over known fields." } else { "" }}
            </p>
        </div>
    }
}

#[component]
fn TestPanel(working: RwSignal<Option<Working>>, live: Signal<Option<RulesetDraft>>) -> impl IntoView {
    let by_id = RwSignal::new(true);
    let transaction_id = RwSignal::new(String::new());
    let pasted = RwSignal::new(String::new());
    let local_error = RwSignal::new(String::new());
    let run = Action::new(move |(draft, subject): &(RulesetDraft, TrialSubject)| test_rules(draft.clone(), subject.clone()));
    let go = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        local_error.set(String::new());
        let Some(draft) = working.get_untracked().map(|w| w.draft).or_else(|| live.get_untracked()) else {
            local_error.set("There are no rules to test yet: start a draft.".into());
            return;
        };
        let subject = if by_id.get_untracked() {
            match transaction_id.get_untracked().trim().parse::<i64>() {
                Ok(id) if id > 0 => TrialSubject::TransactionId(id),
                _ => {
                    local_error.set("A transaction id is a whole number, e.g. 1042 (the case page shows it).".into());
                    return;
                }
            }
        } else {
            TrialSubject::Pasted(pasted.get_untracked())
        };
        run.dispatch((draft, subject));
    };
    view! {
        <section class=format!("{SECTION} mt-4") aria-labelledby="test-heading">
            <h2 id="test-heading" class="text-base font-semibold text-slate-900">"Test on a transaction"</h2>
            <p class="mt-1 text-sm text-slate-700">
                {move || if working.with(Option::is_some) { "Runs the draft as edited (saved or not) beside the live rules." } else { "Runs the live rules; start a draft to test changes." }}
            </p>
            <form class="mt-3 space-y-3" on:submit=go>
                <fieldset class="flex flex-wrap gap-4 text-sm text-slate-800">
                    <legend class="sr-only">"What to test on"</legend>
                    <label class="flex items-center gap-2">
                        <input type="radio" name="test-subject" prop:checked=move || by_id.get() on:change=move |_| by_id.set(true) />
                        "A stored transaction"
                    </label>
                    <label class="flex items-center gap-2">
                        <input type="radio" name="test-subject" prop:checked=move || !by_id.get() on:change=move |_| by_id.set(false) />
                        "A pasted transaction (ingest API JSON)"
                    </label>
                </fieldset>
                {move || if by_id.get() {
                    view! {
                        <label class="block text-sm text-slate-700">
                            "Transaction id"
                            <input type="text" inputmode="numeric" class=format!("{FIELD} w-40") prop:value=move || transaction_id.get() on:input=move |ev| transaction_id.set(event_target_value(&ev)) data-testid="test-transaction-id" />
                        </label>
                    }.into_any()
                } else {
                    view! {
                        <label class="block text-sm text-slate-700">
                            "Transaction JSON"
                            <textarea rows="6" maxlength="16384" class=format!("{FIELD} font-mono text-xs") prop:value=move || pasted.get() on:input=move |ev| pasted.set(event_target_value(&ev)) placeholder=r#"{"merchant_id": 1, "external_id": "test-1", "amount": 12000, "currency": "USD", …}"#></textarea>
                        </label>
                    }.into_any()
                }}
                <button type="submit" class=PRIMARY disabled=move || run.pending().get() data-testid="run-test">{move || if run.pending().get() { "Testing…" } else { "Run test" }}</button>
                <p role="alert" class="min-h-5 text-sm text-rose-800">
                    {move || {
                        let local = local_error.get();
                        if !local.is_empty() { local } else { run.value().get().and_then(Result::err).map(|e| e.to_string()).unwrap_or_default() }
                    }}
                </p>
            </form>
            {move || run.value().get().and_then(Result::ok).map(|trial| view! { <TrialView trial=trial /> })}
        </section>
    }
}

fn outcome_badge(outcome: &str) -> impl IntoView {
    let class = match outcome {
        "allow" => "bg-emerald-50 text-emerald-800 ring-emerald-200",
        "review" => "bg-amber-50 text-amber-900 ring-amber-200",
        _ => "bg-rose-50 text-rose-800 ring-rose-200",
    };
    view! { <span class=format!("rounded-full px-2 py-0.5 text-xs font-semibold uppercase ring-1 {class}")>{outcome.to_string()}</span> }
}

#[component]
fn TrialView(trial: RuleTrial) -> impl IntoView {
    let changed = trial.before.outcome != trial.after.outcome;
    let before_rules = trial.before.rules.clone();
    let after_rules = trial.after.rules.clone();
    view! {
        <div class="mt-2" data-testid="trial">
            <p class="text-sm text-slate-800">
                <span class="font-medium">{trial.subject.clone()}</span>
                {if changed { " — the draft decides differently." } else { " — same outcome." }}
            </p>
            {trial.caveat.clone().map(|c| view! { <p class="mt-1 text-xs text-slate-600">{c}</p> })}
            <div class="mt-3 grid gap-4 md:grid-cols-2">
                <TrialColumn side=trial.before other=after_rules />
                <TrialColumn side=trial.after other=before_rules />
            </div>
            <details class="mt-3">
                <summary class="cursor-pointer text-sm font-medium text-slate-800">"Facts the rules saw"</summary>
                <pre tabindex="0" aria-label="Facts" class="mt-2 max-h-80 overflow-auto rounded bg-slate-50 p-2 font-mono text-xs text-slate-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600">{trial.facts}</pre>
            </details>
        </div>
    }
}

#[component]
fn TrialColumn(side: TrialSide, other: Vec<RuleResultView>) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-slate-200 p-3">
            <p class="flex flex-wrap items-center gap-2 text-sm text-slate-800">
                <span class="font-medium">{side.label.clone()}</span>
                {outcome_badge(&side.outcome)}
                <span class="text-xs text-slate-600 tabular-nums">{format!("score {}", side.score)}</span>
            </p>
            <ul class="mt-2 space-y-1 text-sm">
                {side
                    .rules
                    .into_iter()
                    .map(|r| {
                        // Marked when the other side's result for this rule differs (or it has none).
                        let differs = other.iter().find(|o| o.rule == r.rule).is_none_or(|o| o.outcome != r.outcome);
                        let (mark, class) = match r.outcome.as_str() {
                            "matched" => ("matched", "text-indigo-800 font-medium"),
                            "error" => ("error", "text-rose-800 font-medium"),
                            _ => ("not matched", "text-slate-600"),
                        };
                        view! {
                            <li class=if differs { "rounded bg-amber-50 px-1" } else { "px-1" }>
                                <span class=class>{format!("{} — {mark}", r.rule)}</span>
                                {(r.mode == "shadow").then(|| view! { <span class="ml-1 text-xs text-slate-600">"(shadow)"</span> })}
                                {r.explanation.map(|e| view! { <span class="block text-xs text-slate-700">{e}</span> })}
                                {r.error.map(|e| view! { <span class="block text-xs text-rose-800">{e}</span> })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </div>
    }
}

fn status_badge(status: RulesetStatus) -> impl IntoView {
    let (label, class) = match status {
        RulesetStatus::Published => ("live", "bg-emerald-50 text-emerald-800 ring-emerald-200"),
        RulesetStatus::Draft => ("draft", "bg-indigo-50 text-indigo-800 ring-indigo-200"),
        RulesetStatus::Retired => ("retired", "bg-slate-100 text-slate-700 ring-slate-200"),
    };
    view! { <span class=format!("rounded-full px-2 py-0.5 text-xs font-medium ring-1 {class}")>{label}</span> }
}

#[component]
fn VersionsPanel(all: Vec<RulesetVersion>, history: Resource<Result<Vec<AuditEventView>, crate::app::error::AppError>>) -> impl IntoView {
    // Full dates: the same on the server and in the browser (which has no clock in Rust here).
    let today = String::new();
    // Compare the live version with the draft (or the one before) by default.
    let newest = all.first().map_or(0, |v| v.version);
    let live = all.iter().find(|v| v.status == RulesetStatus::Published).map_or(newest, |v| v.version);
    let other = if live == newest { all.get(1).map_or(newest, |v| v.version) } else { newest };
    let from = RwSignal::new(other.min(live));
    let to = RwSignal::new(other.max(live));
    let versions = StoredValue::new(all.clone());
    let changes = move || {
        versions.with_value(|all| {
            let find = |n: i32| all.iter().find(|v| v.version == n).map(|v| v.draft.clone());
            find(from.get()).zip(find(to.get())).map(|(a, b)| diff(&a, &b))
        })
    };
    let options = move |selected: RwSignal<i32>| {
        versions.with_value(|all| {
            all.iter()
                .map(|v| {
                    let n = v.version;
                    view! { <option value=n.to_string() selected=move || selected.get() == n>{format!("version {n} ({})", v.status.as_str())}</option> }
                })
                .collect_view()
        })
    };
    view! {
        <section class=format!("{SECTION} mt-4") aria-labelledby="versions-heading">
            <h2 id="versions-heading" class="text-base font-semibold text-slate-900">"Versions"</h2>
            <div class="mt-3 overflow-x-auto focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600" tabindex="0" role="region" aria-label="Versions table">
                <table class="w-full min-w-[40rem] text-left text-sm">
                    <thead class="text-xs uppercase tracking-wide text-slate-600">
                        <tr>
                            <th scope="col" class="py-1 pr-3">"Version"</th>
                            <th scope="col" class="py-1 pr-3">"Status"</th>
                            <th scope="col" class="py-1 pr-3">"Saved by"</th>
                            <th scope="col" class="py-1 pr-3">"Saved"</th>
                            <th scope="col" class="py-1 pr-3">"Published"</th>
                            <th scope="col" class="py-1">"Note"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100" data-testid="versions">
                        {all.iter()
                            .map(|v| view! {
                                <tr>
                                    <td class="py-1.5 pr-3 tabular-nums">{v.version}{(v.status == RulesetStatus::Draft).then(|| format!(" · rev. {}", v.revision))}</td>
                                    <td class="py-1.5 pr-3">{status_badge(v.status)}</td>
                                    <td class="py-1.5 pr-3">{v.created_by.clone()}</td>
                                    <td class="py-1.5 pr-3 whitespace-nowrap">{short_utc(&v.created_at, &today)}</td>
                                    <td class="py-1.5 pr-3 whitespace-nowrap">{v.published_at.as_deref().map(|t| short_utc(t, &today)).unwrap_or_else(|| "—".into())}</td>
                                    <td class="py-1.5 text-slate-700">{v.note.clone()}</td>
                                </tr>
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
            <h3 class="mt-4 text-sm font-semibold text-slate-900">"Compare"</h3>
            <div class="mt-1 flex flex-wrap items-end gap-3 text-sm">
                <label class="text-slate-700">"From" <select class=FIELD on:change=move |ev| from.set(event_target_value(&ev).parse().unwrap_or(0)) data-testid="diff-from">{options(from)}</select></label>
                <label class="text-slate-700">"to" <select class=FIELD on:change=move |ev| to.set(event_target_value(&ev).parse().unwrap_or(0)) data-testid="diff-to">{options(to)}</select></label>
            </div>
            <ul class="mt-2 space-y-2 text-sm" data-testid="diff">
                {move || match changes() {
                    None => view! { <li class="text-slate-600">"Choose two versions."</li> }.into_any(),
                    Some(list) if list.is_empty() => view! { <li class="text-slate-600">"No differences."</li> }.into_any(),
                    Some(list) => list.into_iter().map(change_view).collect_view().into_any(),
                }}
            </ul>
            <h3 class="mt-4 text-sm font-semibold text-slate-900">"History"</h3>
            <Suspense fallback=|| view! { <p class="text-sm text-slate-600">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let today = String::new();
                    match history.await {
                        Err(e) => view! { <p role="alert" class="text-sm text-rose-900">{e.to_string()}</p> }.into_any(),
                        Ok(events) if events.is_empty() => view! { <p class="text-sm text-slate-600">"Nothing yet: saves, publishes and rollbacks appear here."</p> }.into_any(),
                        Ok(events) => view! {
                            <ol class="mt-1 space-y-1 text-sm" data-testid="ruleset-history">
                                {events.into_iter().map(|e| view! {
                                    <li>
                                        <span class="whitespace-nowrap text-slate-600">{short_utc(&e.at, &today)}</span>
                                        " · " <span class="font-medium">{e.actor}</span> " " {e.summary}
                                        {e.reason.map(|r| view! { <span class="text-slate-700">{format!(" — “{r}”")}</span> })}
                                    </li>
                                }).collect_view()}
                            </ol>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

fn change_view(change: RuleChange) -> AnyView {
    let code = "mt-1 block whitespace-pre-wrap break-all rounded px-2 py-1 font-mono text-xs";
    match change {
        RuleChange::Added { rule, expression } => view! {
            <li><span class="font-medium text-emerald-800">"+ " {rule}</span><code class=format!("{code} bg-emerald-50")>{expression}</code></li>
        }
        .into_any(),
        RuleChange::Removed { rule, expression } => view! {
            <li><span class="font-medium text-rose-800">"− " {rule}</span><code class=format!("{code} bg-rose-50 line-through")>{expression}</code></li>
        }
        .into_any(),
        RuleChange::Changed { rule, what, expressions } => view! {
            <li>
                <span class="font-medium text-amber-900">"~ " {rule}</span>
                <span class="text-slate-700">{format!(": {}", what.join(", "))}</span>
                {expressions.map(|(before, after)| view! {
                    <code class=format!("{code} bg-rose-50")>{format!("− {before}")}</code>
                    <code class=format!("{code} bg-emerald-50")>{format!("+ {after}")}</code>
                })}
            </li>
        }
        .into_any(),
        RuleChange::Thresholds { what } => view! { <li class="text-slate-800">{what}</li> }.into_any(),
    }
}

/// The publish and rollback dialogs: each asks why, names what will happen, and takes focus.
#[component]
fn DialogView(
    dialog: RwSignal<Option<Dialog>>,
    working: RwSignal<Option<Working>>,
    target: Signal<Option<RulesetVersion>>,
    publish: Action<(i32, String), Result<RulesetVersion, crate::app::error::AppError>>,
    rollback: Action<String, Result<RulesetVersion, crate::app::error::AppError>>,
    latest_backtest: Signal<Option<BacktestReport>>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let field = NodeRef::<leptos::html::Textarea>::new();
    // Where focus was when the dialog opened (the effect's own state, kept in the browser): it
    // goes back there when the dialog closes.
    Effect::new(move |opener: Option<Option<leptos::web_sys::HtmlElement>>| {
        use leptos::wasm_bindgen::JsCast;
        let opener = opener.flatten();
        match dialog.get() {
            Some(open) => {
                let first_run = opener.is_none();
                let opener = opener.or_else(|| leptos::prelude::document().active_element().and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok()));
                if first_run {
                    // A refusal from an earlier opening is not this one's.
                    publish.value().set(None);
                    rollback.value().set(None);
                    text.set(match open {
                        Dialog::Publish(_) => working.with_untracked(|w| w.as_ref().map(|w| w.draft.note.clone()).unwrap_or_default()),
                        Dialog::Rollback => String::new(),
                    });
                }
                if let Some(f) = field.get() {
                    let _ = f.focus();
                }
                opener
            }
            None => {
                if let Some(element) = opener.filter(|e| e.is_connected()) {
                    let _ = element.focus();
                }
                None
            }
        }
    });
    move || {
        let target_version = target.get().map(|t| t.version);
        dialog.get().map(|open| {
            let (title, explain, button) = match open {
                Dialog::Publish(v) => (format!("Publish version {v}"), format!("Version {v} goes live on every instance within a second; the live version is kept and can be rolled back to."), "Publish"),
                Dialog::Rollback => (
                    "Roll back".to_string(),
                    target_version.map_or_else(|| "No earlier version was live.".to_string(), |v| format!("Version {v} goes live again on every instance; the current version is kept.")),
                    "Roll back",
                ),
            };
            let pending = move || publish.pending().get() || rollback.pending().get();
            let submit = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                match open {
                    Dialog::Publish(v) => {
                        publish.dispatch((v, text.get_untracked()));
                    }
                    Dialog::Rollback => {
                        rollback.dispatch(text.get_untracked());
                    }
                }
            };
            view! {
                <div class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/40 p-4" on:keydown=move |ev| if ev.key() == "Escape" { dialog.set(None) }>
                    <form role="dialog" aria-modal="true" aria-labelledby="rules-dialog-title" class="w-full max-w-lg rounded-xl bg-white p-5 shadow-xl" on:submit=submit>
                        <h2 id="rules-dialog-title" class="text-lg font-semibold text-slate-900">{title}</h2>
                        <p class="mt-1 text-sm text-slate-700">{explain}</p>
                        {match open {
                            Dialog::Publish(v) => Some(publish_backtest_line(v, working.with_untracked(|w| w.as_ref().map_or(0, |w| w.revision)), latest_backtest.get_untracked())),
                            Dialog::Rollback => None,
                        }}
                        <label class="mt-3 block text-sm text-slate-700">
                            {match open { Dialog::Publish(_) => "Note (required): what changes and why", Dialog::Rollback => "Reason (required)" }}
                            <textarea node_ref=field rows="3" maxlength="500" required class=FIELD prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev)) data-testid="dialog-text"></textarea>
                        </label>
                        // A refusal (a note missing, another admin's approval needed) beside what it is about.
                        {move || {
                            let refused = match open {
                                Dialog::Publish(_) => publish.value().get().and_then(Result::err),
                                Dialog::Rollback => rollback.value().get().and_then(Result::err),
                            };
                            refused.map(|e| view! { <p role="alert" class="mt-2 text-sm text-rose-900" data-testid="dialog-error">{e.to_string()}</p> })
                        }}
                        <div class="mt-4 flex justify-end gap-2">
                            <button type="button" class=SECONDARY on:click=move |_| dialog.set(None)>"Cancel"</button>
                            <button type="submit" class=PRIMARY disabled=pending data-testid="dialog-confirm">{button}</button>
                        </div>
                    </form>
                </div>
            }
        })
    }
}

/// What the publish dialog says of the latest backtest: its numbers when it ran on this
/// revision, a warning when it did not.
fn publish_backtest_line(version: i32, revision: i32, report: Option<BacktestReport>) -> AnyView {
    match report.filter(|r| r.version == version && r.revision == revision && r.status == "done").and_then(|mut r| r.result.take().map(|result| (r, result))) {
        Some((r, result)) => view! {
            <p class="mt-2 rounded-md bg-emerald-50 p-2 text-sm text-emerald-900" data-testid="publish-backtest">
                {format!(
                    "Backtested on this revision over {} decisions: {} flagged (was {}), precision {}, recall {}.",
                    group_thousands(result.decisions),
                    group_thousands(result.after.flagged),
                    group_thousands(result.before.flagged),
                    percent(result.after.precision),
                    percent(result.after.recall)
                )}
                {format!(" ({} to {})", &r.from[..10.min(r.from.len())], &r.to[..10.min(r.to.len())])}
            </p>
        }
        .into_any(),
        None => view! {
            <p role="alert" class="mt-2 rounded-md bg-amber-50 p-2 text-sm text-amber-900" data-testid="publish-backtest">
                {format!("No backtest ran on revision {revision} of this draft: what it will change is unknown.")}
            </p>
        }
        .into_any(),
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{:.0}%", v * 100.0))
}

fn usd(amount: f64) -> String {
    format!("${}", group_thousands(amount.round().max(0.0) as u64))
}

/// Backtest: the saved draft over a window of history, in the background; progress, cancel,
/// and the result (outcome matrix, quality against labels, per rule, reviews per day).
#[component]
fn BacktestPanel(working: RwSignal<Option<Working>>, saved: Signal<Option<(i32, i32)>>, report: RwSignal<Option<BacktestReport>>) -> impl IntoView {
    let days = RwSignal::new(30u32);
    let error = RwSignal::new(String::new());
    let refresh = Action::new(move |id: &Option<i64>| backtest(*id));
    let start = Action::new(move |days: &u32| start_backtest(*days));
    let cancel = Action::new(move |id: &i64| cancel_backtest(*id));
    // The latest run, when the page opens (it may have been started earlier, or elsewhere).
    Effect::new(move |_| {
        refresh.dispatch(None);
    });
    Effect::new(move |_| match refresh.value().get() {
        Some(Ok(found)) => report.set(found),
        Some(Err(e)) => error.set(e.to_string()),
        None => {}
    });
    Effect::new(move |_| match start.value().get() {
        Some(Ok(started)) => {
            error.set(String::new());
            report.set(Some(started));
        }
        Some(Err(e)) => error.set(e.to_string()),
        None => {}
    });
    Effect::new(move |_| match cancel.value().get() {
        Some(Ok(asked)) => report.set(Some(asked)),
        Some(Err(e)) => error.set(e.to_string()),
        None => {}
    });
    // While a run goes on, its progress is read again a second after each answer.
    Effect::new(move |_| {
        if let Some(r) = report.get().filter(|r| matches!(r.status.as_str(), "running" | "cancelling")) {
            let id = r.id;
            set_timeout(
                move || {
                    refresh.dispatch(Some(id));
                },
                std::time::Duration::from_secs(1),
            );
        }
    });
    let dirty = move || working.with(|w| w.as_ref().is_some_and(|w| w.dirty));
    let running = move || report.with(|r| r.as_ref().is_some_and(|r| matches!(r.status.as_str(), "running" | "cancelling")));
    let blocked_reason = move || {
        if saved.get().is_none() {
            Some("Save a draft to backtest it.")
        } else if dirty() {
            Some("Save the draft first: a backtest runs on the saved revision.")
        } else {
            None
        }
    };
    view! {
        <section class=format!("{SECTION} mt-4") aria-labelledby="backtest-heading" data-testid="backtest">
            <h2 id="backtest-heading" class="text-base font-semibold text-slate-900">"Backtest on history"</h2>
            <p class="mt-1 text-sm text-slate-700">
                "Replays the saved draft on the stored decisions of a window — on the facts each decision saw; lists as they are now — and compares with what was decided then."
            </p>
            <div class="mt-3 flex flex-wrap items-end gap-3">
                <label class="text-sm text-slate-700">
                    "Window"
                    <select class=FIELD on:change=move |ev| days.set(event_target_value(&ev).parse().unwrap_or(30)) data-testid="backtest-days">
                        <option value="7">"last 7 days"</option>
                        <option value="30" selected>"last 30 days"</option>
                        <option value="90">"last 90 days"</option>
                        <option value="366">"last 366 days"</option>
                    </select>
                </label>
                <button
                    type="button"
                    class=PRIMARY
                    disabled=move || blocked_reason().is_some() || running() || start.pending().get()
                    on:click=move |_| {
                        start.dispatch(days.get_untracked());
                    }
                    data-testid="start-backtest"
                >
                    "Run backtest"
                </button>
                {move || {
                    report.get().filter(|r| r.status == "running").map(|r| view! {
                        <button type="button" class=SECONDARY on:click=move |_| { cancel.dispatch(r.id); } data-testid="cancel-backtest">"Cancel"</button>
                    })
                }}
                <p class="text-sm text-slate-600">{move || blocked_reason().unwrap_or_default()}</p>
            </div>
            <p role="alert" class="mt-2 min-h-5 text-sm text-rose-800">{move || error.get()}</p>
            {move || report.get().map(|r| {
                let stale = saved.get().is_some_and(|(v, rev)| v == r.version && rev != r.revision) || (r.version == saved.get().map_or(-1, |s| s.0) && dirty());
                view! { <BacktestView report=r stale=stale /> }
            })}
        </section>
    }
}

#[component]
fn BacktestView(report: BacktestReport, stale: bool) -> impl IntoView {
    let percent_done = if report.total == 0 { 100.0 } else { (report.processed as f64 / report.total as f64 * 100.0).min(100.0) };
    let window = format!("{} to {}", &report.from[..10.min(report.from.len())], &report.to[..10.min(report.to.len())]);
    let heading = format!("Version {}, revision {} · {window} · started by {}", report.version, report.revision, report.started_by);
    let status = match report.status.as_str() {
        "running" => format!(
            "Running: {} of {} decisions{}",
            group_thousands(report.processed),
            group_thousands(report.total),
            report.eta_seconds.map(|s| format!(", about {s} s left")).unwrap_or_default()
        ),
        "cancelling" => "Stopping after the current chunk…".to_string(),
        "cancelled" => format!("Cancelled after {} decisions.", group_thousands(report.processed)),
        "failed" => "The backtest failed; the server's log says why. Run it again.".to_string(),
        "interrupted" => "Interrupted: the server running it stopped. Run it again.".to_string(),
        _ => format!("Done: {} decisions.", group_thousands(report.processed)),
    };
    view! {
        <div class="mt-2" data-testid="backtest-report">
            <p class="text-sm font-medium text-slate-900">{heading}</p>
            {stale.then(|| view! { <p class="mt-1 inline-block rounded bg-amber-50 px-2 py-0.5 text-sm text-amber-900 ring-1 ring-amber-200" data-testid="backtest-stale">"Changed since this backtest"</p> })}
            <div class="mt-2 h-2 w-full overflow-hidden rounded bg-slate-100" role="progressbar" aria-label="Backtest progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{percent_done:.0}")>
                <div class="h-2 bg-indigo-600 transition-all" style=format!("width: {percent_done:.1}%")></div>
            </div>
            <p class="mt-1 text-sm text-slate-700" data-testid="backtest-status">{status}</p>
            {report.result.map(|result| view! { <BacktestResultView result=result /> })}
        </div>
    }
}

#[component]
fn BacktestResultView(result: BacktestResult) -> impl IntoView {
    const OUTCOMES: [&str; 3] = ["allow", "review", "block"];
    let cell = |before: &str, after: &str| result.matrix.iter().find(|c| c.before == before && c.after == after).cloned();
    let rows = OUTCOMES
        .iter()
        .map(|before| {
            let cells = OUTCOMES
                .iter()
                .map(|after| {
                    let c = cell(before, after);
                    let changed = before != after;
                    let class = if changed && c.is_some() { "bg-amber-50" } else { "" };
                    view! {
                        <td class=format!("border border-slate-200 p-2 align-top {class}")>
                            {match c {
                                None => view! { <span class="text-slate-400">"0"</span> }.into_any(),
                                Some(c) => view! {
                                    <span class="block font-semibold tabular-nums">{group_thousands(c.count)}</span>
                                    <span class="block text-xs text-slate-600 tabular-nums">{usd(c.volume_usd)}</span>
                                    <span class="mt-1 flex flex-wrap gap-1 text-xs">
                                        {c.examples.into_iter().map(|e| match e.case_id {
                                            Some(case) => view! { <a class="text-indigo-700 underline" href=format!("/cases/{case}")>{format!("case {case}")}</a> }.into_any(),
                                            None => view! { <span class="text-slate-600">{format!("txn {}", e.transaction_id)}</span> }.into_any(),
                                        }).collect_view()}
                                    </span>
                                }.into_any(),
                            }}
                        </td>
                    }
                })
                .collect_view();
            view! { <tr><th scope="row" class="border border-slate-200 bg-slate-50 p-2 text-left font-medium">{*before}</th>{cells}</tr> }
        })
        .collect_view();
    let quality = |label: &'static str, q: &crate::app::dto::Quality| {
        view! {
            <tr>
                <th scope="row" class="py-1 pr-3 text-left font-medium">{label}</th>
                <td class="py-1 pr-3 tabular-nums">{group_thousands(q.flagged)}</td>
                <td class="py-1 pr-3 tabular-nums">{percent(q.precision)}</td>
                <td class="py-1 pr-3 tabular-nums">{percent(q.recall)}</td>
            </tr>
        }
    };
    let max_day = result.reviews_per_day.iter().map(|d| d.before.max(d.after)).max().unwrap_or(0).max(1) as f64;
    let days = result.reviews_per_day.len().max(1) as f64;
    let line = |pick: fn(&crate::app::dto::DayReviews) -> u64| {
        result
            .reviews_per_day
            .iter()
            .enumerate()
            .map(|(i, d)| format!("{:.1},{:.1}", (i as f64 + 0.5) / days * 300.0, 60.0 - pick(d) as f64 / max_day * 56.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let reviews_before: u64 = result.reviews_per_day.iter().map(|d| d.before).sum();
    let reviews_after: u64 = result.reviews_per_day.iter().map(|d| d.after).sum();
    view! {
        <div class="mt-3 grid gap-4 lg:grid-cols-2">
            <div class="overflow-x-auto" tabindex="0" role="region" aria-label="Outcome matrix">
                <table class="w-full min-w-[22rem] border-collapse text-sm" data-testid="backtest-matrix">
                    <caption class="mb-1 text-left text-sm font-semibold text-slate-900">"Outcome then (rows) × with the draft (columns)"</caption>
                    <thead><tr><th scope="col" class="p-2"></th>{OUTCOMES.iter().map(|o| view! { <th scope="col" class="border border-slate-200 bg-slate-50 p-2 text-left font-medium">{*o}</th> }).collect_view()}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <div>
                <table class="text-sm" data-testid="backtest-quality">
                    <caption class="mb-1 text-left text-sm font-semibold text-slate-900">"Against reviewers' labels"</caption>
                    <thead class="text-xs uppercase tracking-wide text-slate-600"><tr><th scope="col" class="pr-3 text-left"></th><th scope="col" class="pr-3 text-left">"Flagged"</th><th scope="col" class="pr-3 text-left">"Precision"</th><th scope="col" class="pr-3 text-left">"Recall"</th></tr></thead>
                    <tbody>{quality("Then", &result.before)}{quality("Draft", &result.after)}</tbody>
                </table>
                <p class="mt-1 text-xs text-slate-600">{format!("{} decisions labelled fraud in the window (by a reviewer, or a PayPal dispute for unauthorised use). Fraud labels settle over weeks: recent days undercount.", group_thousands(result.after.fraud))}</p>
                <p class="mt-3 text-sm font-semibold text-slate-900">"Reviews per day"</p>
                <p class="text-xs text-slate-600">{format!("{} then → {} with the draft", group_thousands(reviews_before), group_thousands(reviews_after))}</p>
                <svg viewBox="0 0 300 64" class="mt-1 h-16 w-full" role="img" aria-label=format!("Reviews per day: {reviews_before} then, {reviews_after} with the draft")>
                    <polyline points=line(|d| d.before) fill="none" stroke="#94a3b8" stroke-width="1.5" />
                    <polyline points=line(|d| d.after) fill="none" stroke="#4338ca" stroke-width="1.5" />
                </svg>
            </div>
        </div>
        <p class="mt-3 text-xs text-slate-600" data-testid="backtest-replay">
            {format!(
                "Replayed on the facts each decision stored, with the lists as they were at that moment: {} rule results evaluated, {} taken from the stored decisions (rules unchanged since).",
                group_thousands(result.evaluated),
                group_thousands(result.reused)
            )}
        </p>
        <div class="mt-4 overflow-x-auto" tabindex="0" role="region" aria-label="Rules in the backtest">
            <table class="w-full min-w-[40rem] text-left text-sm" data-testid="backtest-rules">
                <caption class="mb-1 text-left text-sm font-semibold text-slate-900">"Each rule of the draft"</caption>
                <thead class="text-xs uppercase tracking-wide text-slate-600">
                    <tr>
                        <th scope="col" class="py-1 pr-3">"Rule"</th>
                        <th scope="col" class="py-1 pr-3 text-right">"Matches"</th>
                        <th scope="col" class="py-1 pr-3 text-right">"Amount"</th>
                        <th scope="col" class="py-1 pr-3 text-right">"Fraud"</th>
                        <th scope="col" class="py-1 pr-3 text-right">"Not fraud"</th>
                        <th scope="col" class="py-1 pr-3 text-right">"Refunded"</th>
                        <th scope="col" class="py-1 pr-3 text-right">"Disputed"</th>
                        <th scope="col" class="py-1 pr-3 text-right">"Blocked"</th>
                        <th scope="col" class="py-1 text-right">"Errors"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {result.rules.into_iter().map(|r| view! {
                        <tr>
                            <td class="py-1 pr-3">{r.rule}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{group_thousands(r.matches)}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{usd(r.amount_usd)}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{group_thousands(r.fraud)}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{group_thousands(r.not_fraud)}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{group_thousands(r.refunded)}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{group_thousands(r.disputed)}</td>
                            <td class="py-1 pr-3 text-right tabular-nums">{group_thousands(r.blocked)}</td>
                            <td class=format!("py-1 text-right tabular-nums {}", if r.errors > 0 { "text-rose-800 font-medium" } else { "" })>{group_thousands(r.errors)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
