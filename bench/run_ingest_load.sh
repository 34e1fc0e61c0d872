#!/usr/bin/env bash
# Starts a fresh all-in-one server on a temporary directory, runs the load
# generator against it and stops the server. Extra flags go to ingest_load.
#   bench/run_ingest_load.sh --events=2000000
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
data="$(mktemp -d)"
port_file="$data/port"
"$build/services/strata/strata" serve --data_dir="$data/data" \
  --listen=127.0.0.1:0 --port_file="$port_file" 2>"$data/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 300); do [ -s "$port_file" ] && break; sleep 0.1; done
# Listening is not serving: wait until every module is ready.
for _ in $(seq 300); do
  "$build/services/strata/strata" health --server="127.0.0.1:$(cat "$port_file")" \
    >/dev/null 2>&1 && break
  sleep 0.1
done
"$build/bench/ingest_load" --server="127.0.0.1:$(cat "$port_file")" "$@"
# Disk per store, for the README's figures (STRATA_BENCH_DU=1).
if [ -n "${STRATA_BENCH_DU:-}" ]; then sleep 2; du -sk --apparent-size "$data/data"/*; fi
