//! The air-gapped readiness page: paste terminal output, read the verdict, export the plan.
//!
//! Everything runs in the browser on the same `planner` functions as the CLI; the page makes no
//! network request (its Content-Security-Policy forbids every connection).

mod app;
mod browser;
mod evidence;
mod examples;
mod json;
mod secrets;
mod state;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
