#!/usr/bin/env bash
# Run the whole test suite several times in a row with the machine kept busy: two busy-loop processes
# (one per core here) compete with every test. Tests must synchronise on gates and events, never on timing,
# so this passes as the plain run does. Usage: scripts/stress_tests.sh [RUNS] [pytest options...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
shift || true
busy=()
for _ in 1 2; do
  python3 -c "while True: pass" &
  busy+=("$!")
done
trap 'kill "${busy[@]}" 2>/dev/null || true' EXIT
for run in $(seq 1 "$runs"); do
  echo "== run $run of $runs, with ${#busy[@]} busy loops beside it"
  .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
done
