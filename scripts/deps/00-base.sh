#!/usr/bin/env bash
# Base tools the suite assumes: cargo-nextest (on the machine image) and the
# rustfmt/clippy components.
set -euo pipefail
if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
