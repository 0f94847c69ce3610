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

// Talc instead of the standard library's dlmalloc: the same job in fewer bytes of wasm.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn main() {
    yew::Renderer::<app::App>::new().render();
}
