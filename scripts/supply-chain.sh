#!/usr/bin/env bash
# Supply-chain gate: licenses, banned crates and sources of every dependency
# in Cargo.lock, against deny.toml. Needs only the registry (to install
# cargo-deny once); the checks themselves read Cargo.lock and the local
# registry index.
#
#   scripts/supply-chain.sh              # licenses bans sources
#   scripts/supply-chain.sh advisories   # also RustSec advisories (network)
#
# Advisories: `cargo deny check advisories` clones the RustSec database from
# https://github.com/RustSec/advisory-db, so it works only on machines that
# can reach github.com. Elsewhere, mirror that repository and point
# `[advisories] db-path` in deny.toml at the copy, or use
# `cargo audit --db <copy> --no-fetch`.
#
# Installing cargo-deny cold (`cargo install cargo-deny --locked`) compiles
# it from source: several minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deny --version >/dev/null 2>&1; then
  echo "== installing cargo-deny (cargo install cargo-deny --locked)"
  cargo install cargo-deny --locked
fi
cargo deny --version

# Cargo.lock is the input: it must be committed and current.
if ! git ls-files --error-unmatch Cargo.lock >/dev/null 2>&1; then
  echo "Cargo.lock is not committed; builds would not be reproducible" >&2
  exit 1
fi
cargo metadata --locked --format-version 1 >/dev/null

checks=(licenses bans sources)
if [[ "${1:-}" == "advisories" ]]; then
  checks+=(advisories)
fi
echo "== cargo deny check ${checks[*]}"
cargo deny --locked check "${checks[@]}"
