//! Driving the real window headless with egui_kittest: the helpers the
//! window tests share.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pantry_window::PantryApp;

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
