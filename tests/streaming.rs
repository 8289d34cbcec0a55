//! Out-of-order streaming is real: the shell's bytes reach the browser before a slow panel resolves.
mod common;

use common::{Backend, TestApp, Who};
use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_arrives_before_a_slow_panel_resolves() {
    // The sales panel's server function waits 1.5 s (a test-only knob); the others do not.
    let app = TestApp::spawn(Backend::Sqlite, &[("VETTED_DEBUG_PANEL_DELAY_MS", "1500")]).await;
    let client = app.client_as(Who::Merchant).await;
    let response = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    let mut chunks = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        chunks.push(String::from_utf8_lossy(&chunk.unwrap()).into_owned());
    }
    let position = |needle: &str| chunks.iter().position(|c| c.contains(needle));

    let shell = position("<nav").expect("navigation in the page");
    let skeleton = position("data-skeleton").expect("a skeleton while panels load");
    let sales = position("Last 30 days").expect("the sales panel's content, eventually");
    assert!(shell < sales, "the shell (chunk {shell}) must be sent before the slow panel (chunk {sales})");
    assert!(skeleton < sales, "the skeleton (chunk {skeleton}) must precede the panel (chunk {sales})");
    assert!(!chunks[shell].contains("Last 30 days"), "the first chunk must not wait for the slow panel");
}
