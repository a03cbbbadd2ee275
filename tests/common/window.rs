//! Driving the real window headless with egui_kittest: the helpers the
//! window tests share.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pantry_window::PantryApp;
use pantry_window::connection::ConnectionStatus;

/// The window at 1280x800, previewing `file` when given.
pub fn window(file: Option<PathBuf>) -> Harness<'static, PantryApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| PantryApp::new(cc, file))
}

/// Steps the window until `done` holds, as a person waiting would.
pub fn wait_for(
    harness: &mut Harness<'static, PantryApp>,
    what: &str,
    done: impl Fn(&PantryApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run_steps(3);
}

/// Types `url` into the connection form and waits for the test to pass.
pub fn connect(harness: &mut Harness<'static, PantryApp>, url: &str) {
    harness.get_by_label("Connection string").click();
    harness.run_steps(2);
    harness.state_mut().connection.url = url.to_owned();
    harness.run_steps(2);
    harness.get_by_label("Test connection").click();
    wait_for(harness, "the connection test", |app| {
        app.connection.is_verified()
    });
}

/// What an Import click answers with: a new run, the question a repeat
/// asks, or word from the connection.
fn import_answer(
    app: &PantryApp,
) -> (
    Option<usize>,
    bool,
    std::mem::Discriminant<ConnectionStatus>,
) {
    (
        app.run
            .as_ref()
            .map(|run| std::sync::Arc::as_ptr(&run.progress) as usize),
        app.file.as_ref().is_some_and(|f| f.repeat.is_some()),
        std::mem::discriminant(&app.connection.status),
    )
}

/// Clicks the import button `label` until the window answers. A click
/// lands where the button was drawn the frame before; background work that
/// ends in between (the history listed, the CRM's users loaded) can move
/// the button, and the click then falls beside it, as a person's would on
/// a page that moved under the pointer. A person clicks again; so does this.
pub fn click_import(harness: &mut Harness<'static, PantryApp>, label: &str) {
    let before = import_answer(harness.state());
    for _ in 0..40 {
        harness.get_by_label(label).click();
        harness.run_steps(2);
        if import_answer(harness.state()) != before {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    panic!("clicking '{label}' started nothing");
}
