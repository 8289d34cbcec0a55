//! The script that loads the app's JavaScript and WebAssembly and hydrates the server-rendered
//! page, in place of Leptos's `HydrationScripts`.
//!
//! The page is complete and readable as the server sends it, and its forms work before
//! hydration (they post to their server functions). So the wasm waits: it is fetched once the
//! page has loaded and the browser is idle, instead of being preloaded from the `<head>`, where
//! on a slow phone connection it shares the bandwidth with the document and the stylesheet and
//! delays the first and largest paints. No `<link rel=preload>` for it either, for the same
//! reason. The inline script carries the response's CSP nonce.
use leptos::prelude::*;

/// Loads `/{pkg}/{js}.js`, then its wasm `/{pkg}/{wasm}.wasm`, and hydrates: after the `load`
/// event, when the browser is idle (at most 2 s later). Hydrating is a task of its own, after the
/// one that starts the wasm, so that neither holds the main thread long.
const SCRIPT: &str = r#"((pkg, js, wasm) => {
  const hydrate = () => import(`/${pkg}/${js}.js`).then((app) => app.default({ module_or_path: `/${pkg}/${wasm}.wasm` }).then(() => setTimeout(() => app.hydrate(), 0)));
  const whenIdle = () => ("requestIdleCallback" in window ? requestIdleCallback(hydrate, { timeout: 2000 }) : setTimeout(hydrate, 0));
  if (document.readyState === "complete") whenIdle(); else addEventListener("load", whenIdle, { once: true });
})"#;

#[component]
pub fn DeferredHydrationScripts(options: LeptosOptions) -> impl IntoView {
    let (js, wasm) = file_names(&options);
    let pkg = options.site_pkg_dir.to_string();
    let nonce = leptos::nonce::use_nonce();
    view! { <script type="module" nonce=nonce>{format!("{SCRIPT}({pkg:?}, {js:?}, {wasm:?});")}</script> }
}

/// The JS and wasm files' names without their extension: `vetted.<hash>` when cargo-leptos
/// hashed them (listed in `hash.txt` beside the server binary), else `vetted`. Read once.
fn file_names(options: &LeptosOptions) -> (String, String) {
    let output = options.output_name.to_string();
    if !options.hash_files {
        return (output.clone(), output);
    }
    #[cfg(feature = "ssr")]
    {
        use std::sync::OnceLock;
        static HASHES: OnceLock<(Option<String>, Option<String>)> = OnceLock::new();
        let (js, wasm) = HASHES.get_or_init(|| {
            let list = crate::server::http::assets::hash_file().and_then(|path| std::fs::read_to_string(path).ok()).unwrap_or_default();
            let hash = |kind: &str| {
                list.lines().find_map(|line| {
                    let (file, hash) = line.split_once(':')?;
                    (file.trim() == kind).then(|| hash.trim().to_string())
                })
            };
            (hash("js"), hash("wasm"))
        });
        let name = |hash: &Option<String>| match hash {
            Some(hash) => format!("{output}.{hash}"),
            None => output.clone(),
        };
        (name(js), name(wasm))
    }
    #[cfg(not(feature = "ssr"))]
    {
        (output.clone(), output)
    }
}
