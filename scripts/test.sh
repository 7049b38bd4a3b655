#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests
# need (scripts/deps/*.sh, each idempotent), then checks formatting, lints,
# and runs every test in release mode (the interop and load tests move real
# data through real daemons; debug builds would make them slow).
set -euo pipefail
cd "$(dirname "$0")/.."

for dep in scripts/deps/*.sh; do
    bash "$dep"
done

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests (release)"
cargo nextest run --workspace --release --locked --no-fail-fast "$@"
