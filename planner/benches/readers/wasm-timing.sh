#!/usr/bin/env bash
# Times the readers as WebAssembly: builds the planner for wasm32-wasip1, compiles the
# `reader_timing` example against it with plain rustc (cargo would drag in dev-dependencies
# that do not build for WASI; proc-macros come from the host build) and runs it under node's WASI; then runs the same example natively.
set -euo pipefail
cd "$(dirname "$0")/../../.."
target="${CARGO_TARGET_DIR:-target}"
rustup target add wasm32-wasip1 >/dev/null
cargo build --quiet --release -p planner --target wasm32-wasip1
out="$target/wasm32-wasip1/release/reader_timing.wasm"
rustc --edition 2021 --crate-type bin --target wasm32-wasip1 -C opt-level=3 \
  --extern planner="$target/wasm32-wasip1/release/libplanner.rlib" \
  -L dependency="$target/wasm32-wasip1/release/deps" -L dependency="$target/release/deps" \
  -o "$out" planner/examples/reader_timing.rs
runner="$target/wasm32-wasip1/release/run-wasi.mjs"
cat > "$runner" <<'JS'
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
const wasi = new WASI({ version: 'preview1', args: ['reader_timing'] });
const module = await WebAssembly.compile(await readFile(process.argv[2]));
wasi.start(await WebAssembly.instantiate(module, wasi.getImportObject()));
JS
echo "wasm32-wasip1 under node $(node --version):"
node --no-warnings "$runner" "$out"
echo "native:"
cargo run --quiet --release -p planner --example reader_timing
