//! The CEL expression editor: a plain `<textarea>` (so typing, selection, undo, screen readers
//! and the keyboard work as they do everywhere) over a highlighted copy of its text, with line
//! numbers, the bracket pair at the caret marked, problems underlined at their line and column,
//! and completion of fields, functions and list names (a listbox the arrow keys move through;
//! Enter or Tab takes the choice, Esc closes it, Ctrl+Space opens it).
use leptos::prelude::*;

use crate::app::dto::{RuleProblem, RuleSchema};
use crate::app::rule_text::{complete, matching_bracket, offset_of, tokens, Completion, TokenKind};

/// A UTF-16 offset (what the DOM's selection reports) as a byte offset into `text`.
fn byte_offset(text: &str, utf16: u32) -> usize {
    let mut units = 0u32;
    for (i, c) in text.char_indices() {
        if units >= utf16 {
            return i;
        }
        units += c.len_utf16() as u32;
    }
    text.len()
}

fn utf16_offset(text: &str, byte: usize) -> u32 {
    text[..byte.min(text.len())].encode_utf16().count() as u32
}

#[component]
pub fn CelEditor(
    /// The expression; written as the person types.
    value: RwSignal<String>,
    /// The checker's problems with the current text (positions in it).
    #[prop(into)]
    problems: Signal<Vec<RuleProblem>>,
    #[prop(into)] schema: Signal<RuleSchema>,
    /// The textarea's id (its `<label for>` is the caller's).
    #[prop(into)]
    id: String,
) -> impl IntoView {
    let textarea = NodeRef::<leptos::html::Textarea>::new();
    let highlight = NodeRef::<leptos::html::Pre>::new();
    let gutter = NodeRef::<leptos::html::Div>::new();
    // The caret, as a byte offset into the text.
    let caret = RwSignal::new(0usize);
    let completion = RwSignal::new(None::<Completion>);
    let active = RwSignal::new(0usize);
    let listbox_id = format!("{id}-completions");
    let problems_id = format!("{id}-problems");

    let read_caret = move || {
        if let Some(area) = textarea.get_untracked() {
            let at = area.selection_start().ok().flatten().unwrap_or(0);
            caret.set(byte_offset(&value.get_untracked(), at));
        }
    };
    let refresh_completion = move |forced: bool| {
        let found = complete(&schema.get_untracked(), &value.get_untracked(), caret.get_untracked(), forced);
        active.set(0);
        completion.set(found);
    };
    let accept = move |index: usize| {
        let Some(c) = completion.get_untracked() else { return };
        let Some(item) = c.items.get(index) else { return };
        let text = value.get_untracked();
        let end = caret.get_untracked().min(text.len());
        // A function is inserted with its opening bracket.
        let insert = if item.detail.contains('(') { format!("{}(", item.name) } else { item.name.clone() };
        let new_text = format!("{}{}{}", &text[..c.from], insert, &text[end..]);
        let new_caret = c.from + insert.len();
        value.set(new_text.clone());
        caret.set(new_caret);
        completion.set(None);
        if let Some(area) = textarea.get_untracked() {
            // The textarea holds the new text already (prop:value); put the caret after the choice.
            area.set_value(&new_text);
            let at = utf16_offset(&new_text, new_caret);
            let _ = area.set_selection_range(at, at);
            let _ = area.focus();
        }
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.ctrl_key() && ev.key() == " " {
            ev.prevent_default();
            read_caret();
            refresh_completion(true);
            return;
        }
        let Some(c) = completion.get_untracked() else { return };
        let count = c.items.len();
        match ev.key().as_str() {
            "ArrowDown" => active.update(|a| *a = (*a + 1) % count),
            "ArrowUp" => active.update(|a| *a = (*a + count - 1) % count),
            "Enter" | "Tab" => accept(active.get_untracked()),
            "Escape" => {
                // The editor's own: a dialog around it stays open.
                ev.stop_propagation();
                completion.set(None);
            }
            _ => return,
        }
        ev.prevent_default();
    };
    let sync_scroll = move || {
        if let (Some(area), Some(pre), Some(gutter)) = (textarea.get_untracked(), highlight.get_untracked(), gutter.get_untracked()) {
            pre.set_scroll_left(area.scroll_left());
            pre.set_scroll_top(area.scroll_top());
            gutter.set_scroll_top(area.scroll_top());
        }
    };

    let line_count = Memo::new(move |_| value.with(|v| v.split('\n').count()));
    let highlighted = move || {
        let text = value.get();
        let pair = matching_bracket(&text, caret.get());
        // The checker points at the `.` of an unknown field: mark the name after it.
        let marks: Vec<usize> = problems
            .get()
            .iter()
            .filter_map(|p| Some(offset_of(&text, p.line?, p.column?)))
            .map(|at| if text[at..].starts_with('.') { at + 1 } else { at })
            .collect();
        let tokens = tokens(&text);
        let last = tokens.len();
        let mut views = Vec::with_capacity(last + 1);
        for (i, token) in tokens.iter().enumerate() {
            // A problem at the end of the text marks the last token.
            let marked = marks.iter().any(|&m| (token.start..token.end).contains(&m) || (i + 1 == last && m >= token.end));
            let paired = pair.is_some_and(|(a, b)| token.start == a || token.start == b);
            let class = format!(
                "{}{}{}",
                token.kind.class(),
                if marked && token.kind != TokenKind::Space { " underline decoration-wavy decoration-rose-600 decoration-2" } else { "" },
                if paired { " rounded-sm bg-amber-200" } else { "" }
            );
            views.push(view! { <span class=class>{text[token.start..token.end].to_string()}</span> }.into_any());
        }
        // A last empty line keeps its height.
        views.push(view! { <span>" "</span> }.into_any());
        views.collect_view()
    };

    let listbox = listbox_id.clone();
    view! {
        <div class="relative">
            <div class="flex overflow-hidden rounded-md border border-slate-300 bg-white font-mono text-sm leading-6 focus-within:ring-2 focus-within:ring-indigo-600">
                <div node_ref=gutter aria-hidden="true" class="select-none overflow-hidden border-r border-slate-200 bg-slate-50 px-2 py-2 text-right text-slate-500">
                    {move || (1..=line_count.get()).map(|n| view! { <div>{n}</div> }).collect_view()}
                </div>
                <div class="relative min-w-0 flex-1">
                    <pre
                        node_ref=highlight
                        aria-hidden="true"
                        class="pointer-events-none absolute inset-0 m-0 overflow-hidden whitespace-pre px-3 py-2 font-mono text-sm leading-6"
                    >
                        {highlighted}
                    </pre>
                    <textarea
                        node_ref=textarea
                        id=id.clone()
                        rows=move || line_count.get().max(3).to_string()
                        spellcheck="false"
                        autocomplete="off"
                        autocapitalize="off"
                        wrap="off"
                        aria-autocomplete="list"
                        // Only while the list exists: an id that names nothing is invalid.
                        aria-controls={
                            let listbox = listbox.clone();
                            move || completion.with(Option::is_some).then(|| listbox.clone())
                        }
                        aria-describedby=problems_id.clone()
                        aria-invalid=move || if problems.get().is_empty() { "false" } else { "true" }
                        aria-activedescendant=move || completion.get().map(|_| format!("{listbox}-{}", active.get()))
                        class="relative block w-full resize-none overflow-x-auto whitespace-pre bg-transparent px-3 py-2 font-mono text-sm leading-6 text-transparent caret-slate-900 outline-none selection:bg-indigo-200 selection:text-transparent"
                        prop:value=move || value.get()
                        on:input=move |ev| {
                            value.set(event_target_value(&ev));
                            read_caret();
                            refresh_completion(false);
                        }
                        on:keydown=on_keydown
                        on:keyup=move |ev: leptos::ev::KeyboardEvent| {
                            if matches!(ev.key().as_str(), "ArrowLeft" | "ArrowRight" | "Home" | "End") || (ev.key().starts_with("Arrow") && completion.get_untracked().is_none()) {
                                read_caret();
                            }
                        }
                        on:click=move |_| {
                            read_caret();
                            completion.set(None);
                        }
                        on:scroll=move |_| sync_scroll()
                        on:blur=move |_| completion.set(None)
                    ></textarea>
                </div>
            </div>
            {move || {
                completion
                    .get()
                    .map(|c| {
                        view! {
                            <ul
                                id=listbox_id.clone()
                                role="listbox"
                                aria-label="Completions"
                                class="absolute left-10 z-20 mt-1 max-h-64 w-max min-w-64 max-w-full overflow-auto rounded-md border border-slate-200 bg-white py-1 text-sm shadow-lg"
                                data-testid="completions"
                            >
                                {c
                                    .items
                                    .into_iter()
                                    .enumerate()
                                    .map(|(i, item)| {
                                        let selected = move || active.get() == i;
                                        view! {
                                            <li
                                                id=format!("{}-{i}", listbox_id)
                                                role="option"
                                                aria-selected=move || if selected() { "true" } else { "false" }
                                                class="flex cursor-pointer items-baseline justify-between gap-4 px-3 py-1 aria-selected:bg-indigo-50 aria-selected:text-indigo-900"
                                                // Before the textarea's blur closes the list.
                                                on:mousedown=move |ev| {
                                                    ev.prevent_default();
                                                    accept(i);
                                                }
                                            >
                                                <span class="font-mono">{item.name.clone()}</span>
                                                <span class="text-xs text-slate-600">{item.detail.clone()}</span>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                    })
            }}
            <ul id=problems_id.clone() aria-live="polite" class="mt-1 space-y-0.5 text-sm text-rose-800" data-testid="expression-problems">
                {move || {
                    problems
                        .get()
                        .into_iter()
                        .map(|p| {
                            let at = match (p.line, p.column) {
                                (Some(line), Some(column)) => format!("Line {line}, column {column}: "),
                                _ => String::new(),
                            };
                            view! { <li>{at}{p.message}</li> }
                        })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}
