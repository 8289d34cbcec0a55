//! API keys, `/admin/keys` (admins): the ingest API's keys with their scope (every merchant or
//! one), who made them, when they were last used; create one (its secret is shown once, with a
//! copy button) and revoke one (after a confirmation).
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::admin::{api_keys, create_api_key, revoke_api_key};
use crate::app::components::admin_ui::{age_cell, badge, dialog_focus, Modal, SecretOnce, DANGER, FIELD, PRIMARY, SECONDARY, SECTION, SMALL, TD, TH};
use crate::app::components::layout::RequireRole;
use crate::app::dto::{short_utc, ApiKeySummary, CreatedApiKey, Role};
use crate::app::error::AppError;

#[component]
pub fn KeysPage() -> impl IntoView {
    view! {
        <Title text="API keys" />
        <RequireRole roles=&[Role::Admin]>
            <KeysConsole />
        </RequireRole>
    }
}

#[component]
fn KeysConsole() -> impl IntoView {
    let list = Resource::new(|| (), |_| api_keys());
    let status_line = RwSignal::new(String::new());
    let created = RwSignal::new(None::<CreatedApiKey>);
    let confirm = RwSignal::new(None::<ApiKeySummary>);
    let create = Action::new(|(name, merchant): &(String, Option<i32>)| create_api_key(name.clone(), *merchant));
    let revoke = Action::new(|id: &i32| revoke_api_key(*id));
    let revoke_error = RwSignal::new(String::new());
    Effect::new(move |_| match revoke.value().get() {
        Some(Ok(key)) => {
            confirm.set(None);
            revoke_error.set(String::new());
            status_line.set(format!("Revoked \"{}\" ({}…): requests with it are refused.", key.name, key.prefix));
            list.refetch();
        }
        Some(Err(e)) => revoke_error.set(e.to_string()),
        None => {}
    });

    view! {
        <div class="flex flex-wrap items-baseline justify-between gap-2">
            <h1 class="text-2xl font-semibold">"API keys"</h1>
            <p class="text-sm text-slate-700">"Keys for the ingest API: one per calling service, bound to a merchant where it should see only that one."</p>
        </div>
        <p role="status" class="mt-2 min-h-5 text-sm text-slate-800" data-testid="keys-status">{move || status_line.get()}</p>
        <CreatedKeyPanel created=created />
        <section class=format!("{SECTION} mt-2") aria-labelledby="keys-heading">
            <h2 id="keys-heading" class="text-base font-semibold text-slate-900">"Keys"</h2>
            <Transition fallback=|| view! { <p class="mt-3 text-sm text-slate-600">"Loading the keys…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => view! { <p role="alert" class="mt-3 text-sm text-rose-900">{e.to_string()}</p> }.into_any(),
                        Ok(all) => view! { <KeysTable all=all confirm=confirm /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <CreateKeyForm create=create created=created status_line=status_line on_created=move || list.refetch() />
        <RevokeDialog confirm=confirm revoke=revoke error=revoke_error />
    }
}

#[component]
fn KeysTable(all: Vec<ApiKeySummary>, confirm: RwSignal<Option<ApiKeySummary>>) -> impl IntoView {
    if all.is_empty() {
        return view! {
            <p class="mt-3 text-sm text-slate-700" data-testid="keys-empty">"No API keys yet. Create one below for each service that sends transactions."</p>
        }
        .into_any();
    }
    view! {
        <div class="mt-3 overflow-x-auto">
            <table class="min-w-full text-sm" data-testid="keys-table">
                <thead>
                    <tr>
                        <th class=TH scope="col">"Name"</th>
                        <th class=TH scope="col">"Key"</th>
                        <th class=TH scope="col">"Scope"</th>
                        <th class=TH scope="col">"Created"</th>
                        <th class=TH scope="col">"Last used"</th>
                        <th class=TH scope="col">"Status"</th>
                        <th class=TH scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {all
                        .into_iter()
                        .map(|key| {
                            let scope = match (key.merchant_id, key.merchant_name.clone()) {
                                (Some(id), Some(name)) => format!("{name} (merchant {id})"),
                                (Some(id), None) => format!("Merchant {id}"),
                                _ => "All merchants".to_string(),
                            };
                            let revoked = key.revoked_at.clone();
                            let for_confirm = key.clone();
                            let name = key.name.clone();
                            view! {
                                <tr data-key-id=key.id class="hover:bg-slate-50">
                                    <td class=format!("{TD} max-w-56 break-words font-medium text-slate-900")>{key.name.clone()}</td>
                                    <td class=format!("{TD} whitespace-nowrap font-mono text-xs")>{format!("{}…", key.prefix)}</td>
                                    <td class=format!("{TD} min-w-32")>{scope}</td>
                                    <td class=TD>
                                        <span class="block max-w-48 break-all">{key.created_by.clone()}</span>
                                        <time datetime=key.created_at.clone() class="whitespace-nowrap text-xs text-slate-600">{short_utc(&key.created_at, "")}</time>
                                    </td>
                                    <td class=TD>{age_cell(key.last_used_at.clone(), key.last_used_seconds_ago)}</td>
                                    <td class=TD>
                                        {match &revoked {
                                            Some(at) => view! { <span title=short_utc(at, "")>{badge("Revoked".into(), "red")}</span> }.into_any(),
                                            None => badge("Active".into(), "green").into_any(),
                                        }}
                                    </td>
                                    <td class=TD>
                                        {revoked.is_none().then(|| view! {
                                            <button type="button" class=SMALL aria-label=format!("Revoke {name}") on:click=move |_| confirm.set(Some(for_confirm.clone()))>"Revoke"</button>
                                        })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Where a form's error goes: next to the field it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Merchant,
}

#[component]
fn CreateKeyForm(
    create: Action<(String, Option<i32>), Result<CreatedApiKey, AppError>>,
    created: RwSignal<Option<CreatedApiKey>>,
    status_line: RwSignal<String>,
    on_created: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let merchant = RwSignal::new(String::new());
    let error = RwSignal::new(None::<(Field, String)>);
    Effect::new(move |_| match create.value().get() {
        Some(Ok(key)) => {
            error.set(None);
            name.set(String::new());
            merchant.set(String::new());
            status_line.set(format!("Created \"{}\". Copy its key now: it is not shown again.", key.summary.name));
            created.set(Some(key));
            on_created();
        }
        Some(Err(e)) => {
            let message = e.to_string();
            let field = if message.contains("merchant") { Field::Merchant } else { Field::Name };
            error.set(Some((field, message)));
        }
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let merchant_text = merchant.get_untracked();
        let merchant_id = match merchant_text.trim() {
            "" => None,
            text => match text.parse::<i32>() {
                Ok(id) if id > 0 => Some(id),
                _ => {
                    error.set(Some((Field::Merchant, "A merchant id is a whole number above 0 (or leave it empty for every merchant).".into())));
                    return;
                }
            },
        };
        create.dispatch((name.get_untracked(), merchant_id));
    };
    let error_for = move |field: Field| error.get().filter(|(f, _)| *f == field).map(|(_, m)| m).unwrap_or_default();
    view! {
        <section class=format!("{SECTION} mt-4") aria-labelledby="create-key-heading">
            <h2 id="create-key-heading" class="text-base font-semibold text-slate-900">"Create a key"</h2>
            <form class="mt-3 grid gap-3 sm:grid-cols-2" on:submit=submit data-testid="create-key-form">
                <label class="block text-sm text-slate-700">
                    "Name (what uses it)"
                    <input type="text" required maxlength="100" autocomplete="off" class=FIELD name="name" placeholder="checkout service" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) aria-describedby="key-name-error" />
                    <span id="key-name-error" role="alert" class="mt-1 block text-xs text-rose-800">{move || error_for(Field::Name)}</span>
                </label>
                <label class="block text-sm text-slate-700">
                    "Merchant id (optional: only this merchant)"
                    <input type="text" inputmode="numeric" pattern="[0-9]*" maxlength="10" autocomplete="off" class=FIELD name="merchant_id" placeholder="every merchant" prop:value=move || merchant.get() on:input=move |ev| merchant.set(event_target_value(&ev)) aria-describedby="key-merchant-error" />
                    <span id="key-merchant-error" role="alert" class="mt-1 block text-xs text-rose-800">{move || error_for(Field::Merchant)}</span>
                </label>
                <div class="sm:col-span-2">
                    <button type="submit" class=PRIMARY disabled=move || create.pending().get() data-testid="create-key">"Create key"</button>
                </div>
            </form>
        </section>
    }
}

/// The key just created, shown this once.
#[component]
fn CreatedKeyPanel(created: RwSignal<Option<CreatedApiKey>>) -> impl IntoView {
    let shown = Signal::derive(move || created.get().map(|key| (format!("Your new key \"{}\"", key.summary.name), key.key)));
    let explanation = "Copy it now and keep it in your service's secrets: it will not be shown again. Only its fingerprint is stored.";
    view! { <SecretOnce shown=shown explanation=explanation label="API key" on_done=Callback::new(move |()| created.set(None)) /> }
}

#[component]
fn RevokeDialog(confirm: RwSignal<Option<ApiKeySummary>>, revoke: Action<i32, Result<ApiKeySummary, AppError>>, error: RwSignal<String>) -> impl IntoView {
    let open = Signal::derive(move || confirm.with(Option::is_some));
    dialog_focus(open, "revoke-dialog");
    let close = Callback::new(move |()| {
        confirm.set(None);
        error.set(String::new());
    });
    move || {
        confirm.get().map(|key| {
            let id = key.id;
            view! {
                <Modal id="revoke-dialog" title_id="revoke-dialog-title" on_close=close>
                    <h2 id="revoke-dialog-title" class="text-lg font-semibold text-slate-900">{format!("Revoke \"{}\"?", key.name)}</h2>
                    <p class="mt-1 text-sm text-slate-700">
                        {format!("Requests with {}… are refused from now on (within a second on every server). This cannot be undone: the service using it needs a new key.", key.prefix)}
                    </p>
                    <p role="alert" class="mt-2 min-h-5 text-sm text-rose-800">{move || error.get()}</p>
                    <div class="mt-2 flex justify-end gap-2">
                        <button type="button" class=SECONDARY data-autofocus="" on:click=move |_| close.run(())>"Cancel"</button>
                        <button type="button" class=DANGER disabled=move || revoke.pending().get() on:click=move |_| { revoke.dispatch(id); } data-testid="confirm-revoke">"Revoke key"</button>
                    </div>
                </Modal>
            }
        })
    }
}
