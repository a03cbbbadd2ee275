//! One-shot background work (test a connection, create the tables, load
//! the history, undo, a file dialog) as `poll_promise::Promise`s the window
//! polls every frame. A task that panics still answers, with an error, so
//! no button waits for it forever.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use eframe::egui;
use futures_util::FutureExt;
use poll_promise::Promise;

/// A background answer: the value, or what went wrong in words.
pub type Task<T> = Promise<Result<T, String>>;

/// Runs `work` on `runtime` and wakes the window when it has answered.
pub fn spawn<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    ctx: &egui::Context,
    work: impl Future<Output = Result<T, String>> + Send + 'static,
) -> Task<T> {
    let (sender, promise) = Promise::new();
    let ctx = ctx.clone();
    runtime.spawn(async move {
        let answer = AssertUnwindSafe(work)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err("the background task stopped unexpectedly".to_owned()));
        sender.send(answer);
        ctx.request_repaint();
    });
    promise
}

/// Takes the answer out of `slot` once it has come.
pub fn take_ready<T: Send + 'static>(slot: &mut Option<Task<T>>) -> Option<Result<T, String>> {
    let promise = slot.take()?;
    match promise.try_take() {
        Ok(answer) => Some(answer),
        Err(pending) => {
            *slot = Some(pending);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_task_that_panics_still_answers_with_an_error() {
        use super::{Task, egui, spawn, take_ready};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ctx = egui::Context::default();
        let mut slot: Option<Task<u32>> = Some(spawn(&runtime, &ctx, async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            Ok(1)
        }));
        let mut answer = None;
        for _ in 0..1000 {
            runtime.block_on(tokio::task::yield_now());
            answer = take_ready(&mut slot);
            if answer.is_some() {
                break;
            }
        }
        assert_eq!(
            answer,
            Some(Err("the background task stopped unexpectedly".to_owned()))
        );
        assert!(slot.is_none(), "nothing is left waiting");
    }
}
