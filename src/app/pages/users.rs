//! Users, `/admin/users` (admins): every account with its role, status and last sign-in; create
//! a reviewer or an admin; per account: change role, disable or enable, reset the password.
//! The server refuses what would leave no enabled admin, and says so next to the account.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::users::{create_user, reset_user_password, set_user_disabled, set_user_role, users};
use crate::app::components::admin_ui::{age_cell, badge, dialog_focus, Modal, DANGER, FIELD, PRIMARY, SECONDARY, SECTION, SMALL, TD, TH};
use crate::app::components::layout::RequireRole;
use crate::app::dto::{Role, UserSummary};
use crate::app::error::AppError;

/// Bounds the server enforces too (`server::auth::users`).
const MAX_EMAIL: &str = "254";
const MAX_NAME: &str = "100";
const MIN_PASSWORD: &str = "10";
const MAX_PASSWORD: &str = "1024";

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <Title text="Users" />
        <RequireRole roles=&[Role::Admin]>
            <UsersConsole />
        </RequireRole>
    }
}

/// A dialog of this page: confirm disabling an account, or set its new password.
#[derive(Debug, Clone, PartialEq)]
enum Dialog {
    Disable(UserSummary),
    ResetPassword(UserSummary),
}

/// The answer to one account's action, shown on that account's row.
#[derive(Debug, Clone, PartialEq)]
struct RowMessage {
    user_id: i32,
    text: String,
    error: bool,
}

#[component]
fn UsersConsole() -> impl IntoView {
    let list = Resource::new(|| (), |_| users());
    let status_line = RwSignal::new(String::new());
    let row_message = RwSignal::new(None::<RowMessage>);
    let dialog = RwSignal::new(None::<Dialog>);

    let create =
        Action::new(|(email, name, role, password): &(String, String, Role, String)| create_user(email.clone(), name.clone(), *role, password.clone()));
    let change_role = Action::new(|(id, role): &(i32, Role)| set_user_role(*id, *role));
    let disable = Action::new(|(id, disabled): &(i32, bool)| set_user_disabled(*id, *disabled));
    let reset = Action::new(|(id, password): &(i32, String)| reset_user_password(*id, password.clone()));

    // The account the latest role or status change was for: its answer is shown on its row.
    let acting_on = RwSignal::new(0i32);
    let after_row_action = move |result: Option<Result<UserSummary, AppError>>, done: &dyn Fn(&UserSummary) -> String| {
        let id = acting_on.get_untracked();
        match result {
            Some(Ok(user)) => {
                let text = done(&user);
                status_line.set(text.clone());
                row_message.set(Some(RowMessage { user_id: id, text, error: false }));
                list.refetch();
            }
            Some(Err(e)) => row_message.set(Some(RowMessage { user_id: id, text: e.to_string(), error: true })),
            None => {}
        }
    };
    Effect::new(move |_| {
        after_row_action(change_role.value().get(), &|u| format!("{} is now {}.", u.display_name, article(u.role)));
    });
    Effect::new(move |_| {
        let result = disable.value().get();
        if matches!(result, Some(Ok(_))) {
            dialog.set(None);
        }
        if matches!(result, Some(Err(_))) && dialog.with_untracked(Option::is_some) {
            // Refused from the dialog: close it, so the answer on the row is seen.
            dialog.set(None);
        }
        after_row_action(result, &|u| {
            if u.disabled_at.is_some() {
                format!("{} is disabled and was signed out everywhere.", u.display_name)
            } else {
                format!("{} is enabled and can sign in again.", u.display_name)
            }
        });
    });
    let reset_error = RwSignal::new(String::new());
    Effect::new(move |_| match reset.value().get() {
        Some(Ok(user)) => {
            dialog.set(None);
            reset_error.set(String::new());
            let text = format!("New password set for {}; their other sessions were ended.", user.display_name);
            status_line.set(text.clone());
            row_message.set(Some(RowMessage { user_id: user.id, text, error: false }));
        }
        Some(Err(e)) => reset_error.set(e.to_string()),
        None => {}
    });

    view! {
        <div class="flex flex-wrap items-baseline justify-between gap-2">
            <h1 class="text-2xl font-semibold">"Users"</h1>
            <p class="text-sm text-slate-700">"Reviewers and admins: who can sign in, and with which role."</p>
        </div>
        <p role="status" class="mt-2 min-h-5 text-sm text-slate-800" data-testid="users-status">{move || status_line.get()}</p>
        <section class=format!("{SECTION} mt-2") aria-labelledby="users-heading">
            <h2 id="users-heading" class="text-base font-semibold text-slate-900">"Accounts"</h2>
            <Transition fallback=|| view! { <p class="mt-3 text-sm text-slate-600">"Loading the accounts…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => view! { <p role="alert" class="mt-3 text-sm text-rose-900">{e.to_string()}</p> }.into_any(),
                        Ok(all) => view! { <UsersTable all=all row_message=row_message acting_on=acting_on dialog=dialog change_role=change_role disable=disable /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <CreateUserForm create=create status_line=status_line on_created=move || list.refetch() />
        <UsersDialog dialog=dialog disable=disable reset=reset reset_error=reset_error />
    }
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Admin => "an admin",
        Role::Reviewer => "a reviewer",
        Role::Merchant => "a merchant user",
    }
}

fn role_badge(role: Role) -> impl IntoView {
    badge(role.label().to_string(), if role == Role::Admin { "indigo" } else { "slate" })
}

type RowAction<I> = Action<I, Result<UserSummary, AppError>>;

#[component]
fn UsersTable(
    all: Vec<UserSummary>,
    row_message: RwSignal<Option<RowMessage>>,
    acting_on: RwSignal<i32>,
    dialog: RwSignal<Option<Dialog>>,
    change_role: RowAction<(i32, Role)>,
    disable: RowAction<(i32, bool)>,
) -> impl IntoView {
    if all.is_empty() {
        return view! { <p class="mt-3 text-sm text-slate-700">"No accounts yet: create one below."</p> }.into_any();
    }
    let me = crate::app::use_current_user();
    view! {
        <div class="mt-3 overflow-x-auto">
            <table class="min-w-full text-sm" data-testid="users-table">
                <thead>
                    <tr>
                        <th class=TH scope="col">"Name"</th>
                        <th class=TH scope="col">"Email"</th>
                        <th class=TH scope="col">"Role"</th>
                        <th class=TH scope="col">"Status"</th>
                        <th class=TH scope="col">"Last sign-in"</th>
                        <th class=TH scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {all
                        .into_iter()
                        .map(|user| {
                            let id = user.id;
                            let is_me = me.with_untracked(|m| m.as_ref().is_some_and(|m| m.id == id));
                            let disabled = user.disabled_at.is_some();
                            let status = if disabled { badge("Disabled".into(), "red").into_any() } else { badge("Enabled".into(), "green").into_any() };
                            let other_role = match user.role {
                                Role::Admin => Some((Role::Reviewer, "Make reviewer")),
                                Role::Reviewer => Some((Role::Admin, "Make admin")),
                                Role::Merchant => None,
                            };
                            let name = user.display_name.clone();
                            let for_disable = user.clone();
                            let for_reset = user.clone();
                            let message = move || row_message.get().filter(|m| m.user_id == id);
                            view! {
                                <tr data-user-id=id data-email=user.email.clone() class="hover:bg-slate-50">
                                    <td class=format!("{TD} whitespace-nowrap font-medium text-slate-900")>
                                        {user.display_name.clone()}
                                        {is_me.then(|| view! { <span class="ml-1 text-xs font-normal text-slate-600">"(you)"</span> })}
                                    </td>
                                    <td class=format!("{TD} whitespace-nowrap")>{user.email.clone()}</td>
                                    <td class=TD>
                                        {role_badge(user.role)}
                                        {user.merchant_id.map(|m| view! { <span class="ml-1 whitespace-nowrap text-xs text-slate-600">{format!("merchant {m}")}</span> })}
                                    </td>
                                    <td class=TD>{status}</td>
                                    <td class=TD>{age_cell(user.last_login_at.clone(), user.last_login_seconds_ago)}</td>
                                    <td class=TD>
                                        <div class="flex flex-wrap gap-1">
                                            {other_role.map(|(role, label)| {
                                                view! {
                                                    <button type="button" class=SMALL aria-label=format!("{label}: {name}") disabled=move || change_role.pending().get() on:click=move |_| {
                                                        row_message.set(None);
                                                        acting_on.set(id);
                                                        change_role.dispatch((id, role));
                                                    }>{label}</button>
                                                }
                                            })}
                                            {if disabled {
                                                let name = user.display_name.clone();
                                                view! {
                                                    <button type="button" class=SMALL aria-label=format!("Enable {name}") on:click=move |_| {
                                                        row_message.set(None);
                                                        acting_on.set(id);
                                                        disable.dispatch((id, false));
                                                    }>"Enable"</button>
                                                }.into_any()
                                            } else {
                                                let name = user.display_name.clone();
                                                view! {
                                                    <button type="button" class=SMALL aria-label=format!("Disable {name}") disabled=is_me title=is_me.then_some("Another admin can disable your account") on:click=move |_| {
                                                        row_message.set(None);
                                                        acting_on.set(id);
                                                        dialog.set(Some(Dialog::Disable(for_disable.clone())));
                                                    }>"Disable"</button>
                                                }.into_any()
                                            }}
                                            <button type="button" class=SMALL aria-label=format!("Reset password: {}", user.display_name) on:click=move |_| {
                                                row_message.set(None);
                                                dialog.set(Some(Dialog::ResetPassword(for_reset.clone())));
                                            }>"Reset password"</button>
                                        </div>
                                        {move || message().map(|m| {
                                            let class = if m.error { "mt-1 max-w-xs text-xs text-rose-800" } else { "mt-1 max-w-xs text-xs text-emerald-800" };
                                            view! { <p role=if m.error { "alert" } else { "status" } class=class data-testid="row-message">{m.text}</p> }
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

#[component]
fn CreateUserForm(
    create: Action<(String, String, Role, String), Result<UserSummary, AppError>>,
    status_line: RwSignal<String>,
    on_created: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Reviewer);
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(String::new());
    Effect::new(move |_| match create.value().get() {
        Some(Ok(user)) => {
            error.set(String::new());
            email.set(String::new());
            name.set(String::new());
            password.set(String::new());
            status_line.set(format!("Created {} ({}) as {}; they can sign in now.", user.display_name, user.email, article(user.role)));
            on_created();
        }
        Some(Err(e)) => error.set(e.to_string()),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch((email.get_untracked(), name.get_untracked(), role.get_untracked(), password.get_untracked()));
    };
    view! {
        <section class=format!("{SECTION} mt-4") aria-labelledby="create-user-heading">
            <h2 id="create-user-heading" class="text-base font-semibold text-slate-900">"Create a user"</h2>
            <form class="mt-3 grid gap-3 sm:grid-cols-2 lg:grid-cols-4" on:submit=submit data-testid="create-user-form" aria-describedby="create-user-error">
                <label class="block text-sm text-slate-700">
                    "Email"
                    <input type="email" required maxlength=MAX_EMAIL autocomplete="off" class=FIELD prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) name="email" />
                </label>
                <label class="block text-sm text-slate-700">
                    "Display name"
                    <input type="text" required maxlength=MAX_NAME autocomplete="off" class=FIELD prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) name="display_name" />
                </label>
                <label class="block text-sm text-slate-700">
                    "Role"
                    <select class=FIELD name="role" on:change=move |ev| role.set(if event_target_value(&ev) == "admin" { Role::Admin } else { Role::Reviewer })>
                        <option value="reviewer" selected=move || role.get() == Role::Reviewer>"Reviewer"</option>
                        <option value="admin" selected=move || role.get() == Role::Admin>"Admin"</option>
                    </select>
                </label>
                <label class="block text-sm text-slate-700">
                    "Initial password"
                    <input type="password" required minlength=MIN_PASSWORD maxlength=MAX_PASSWORD autocomplete="new-password" class=FIELD prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) name="password" aria-describedby="password-hint" />
                    <span id="password-hint" class="mt-1 block text-xs text-slate-600">"At least 10 characters. Give it to them privately."</span>
                </label>
                <div class="flex flex-wrap items-center gap-3 sm:col-span-2 lg:col-span-4">
                    <button type="submit" class=PRIMARY disabled=move || create.pending().get() data-testid="create-user">"Create user"</button>
                    <p id="create-user-error" role="alert" class="text-sm text-rose-800" data-testid="create-user-error">{move || error.get()}</p>
                </div>
            </form>
        </section>
    }
}

#[component]
fn UsersDialog(
    dialog: RwSignal<Option<Dialog>>,
    disable: RowAction<(i32, bool)>,
    reset: RowAction<(i32, String)>,
    reset_error: RwSignal<String>,
) -> impl IntoView {
    let open = Signal::derive(move || dialog.with(Option::is_some));
    dialog_focus(open, "users-dialog");
    let password = RwSignal::new(String::new());
    let close = Callback::new(move |()| {
        dialog.set(None);
        password.set(String::new());
        reset_error.set(String::new());
    });
    move || {
        dialog.get().map(|open| match open {
            Dialog::Disable(user) => {
                let id = user.id;
                view! {
                    <Modal id="users-dialog" title_id="users-dialog-title" on_close=close>
                        <h2 id="users-dialog-title" class="text-lg font-semibold text-slate-900">{format!("Disable {}?", user.display_name)}</h2>
                        <p class="mt-1 text-sm text-slate-700">
                            {format!("{} ({}) is signed out everywhere at once and cannot sign in until an admin enables the account again.", user.display_name, user.email)}
                        </p>
                        <div class="mt-4 flex justify-end gap-2">
                            <button type="button" class=SECONDARY on:click=move |_| close.run(())>"Cancel"</button>
                            <button type="button" class=DANGER data-autofocus="" disabled=move || disable.pending().get() data-testid="confirm-disable" on:click=move |_| {
                                disable.dispatch((id, true));
                            }>"Disable account"</button>
                        </div>
                    </Modal>
                }
                .into_any()
            }
            Dialog::ResetPassword(user) => {
                let id = user.id;
                let submit = move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    reset.dispatch((id, password.get_untracked()));
                };
                view! {
                    <Modal id="users-dialog" title_id="users-dialog-title" on_close=close>
                        <form on:submit=submit>
                            <h2 id="users-dialog-title" class="text-lg font-semibold text-slate-900">{format!("New password for {}", user.display_name)}</h2>
                            <p class="mt-1 text-sm text-slate-700">"Their other sessions end at once; they sign in with the new password."</p>
                            <label class="mt-3 block text-sm text-slate-700">
                                "New password (at least 10 characters)"
                                <input type="password" required minlength=MIN_PASSWORD maxlength=MAX_PASSWORD autocomplete="new-password" data-autofocus="" class=FIELD prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) data-testid="new-password" aria-describedby="reset-error" />
                            </label>
                            <p id="reset-error" role="alert" class="mt-2 min-h-5 text-sm text-rose-800">{move || reset_error.get()}</p>
                            <div class="mt-2 flex justify-end gap-2">
                                <button type="button" class=SECONDARY on:click=move |_| close.run(())>"Cancel"</button>
                                <button type="submit" class=PRIMARY disabled=move || reset.pending().get() data-testid="confirm-reset">"Set password"</button>
                            </div>
                        </form>
                    </Modal>
                }
                .into_any()
            }
        })
    }
}
