#!/usr/bin/env bash
# `make bench`: every figure BENCHMARKS.md records, in one run, printed and
# kept in bench.out. Needs `make build` (the plugin binaries) and PostgreSQL.
# Benchmarks measure; they never assert a time.
set -uo pipefail
cd "$(dirname "$0")/.."
export CAMKIT_BIN="$PWD/bin"
out=bench.out
: > "$out"
say() { echo "$@" | tee -a "$out"; }
run() { say "\$ $*"; "$@" 2>&1 | grep -vE '^(time=|[0-9T:.-]+Z \[)' | tee -a "$out"; }

say "# camkit benchmarks — $(date -u +%FT%TZ) — $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB — load: $(cut -d' ' -f1-3 /proc/loadavg)"
say "## issue 2: plugin round trips"
run go test -run '^$' -bench ProcessorCallRoundTrip -benchtime 3000x ./core/pluginhost
run go test -run '^$' -bench ThemeRender -benchtime 3s ./themes/default
say "## issue 3: ledger on PostgreSQL, 16 clients"
run go test -run '^$' -bench 'SingleTransfer|LinkedBatch100|HotAccount' -benchtime 5s ./core/ledger
say "## issue 4: meter, metering with checkpoints, settlements"
run go test -run '^$' -bench . -benchtime 2s ./core/meter
go build -o bin/billbench ./cmd/billbench
run bin/billbench -mode meter -seats 20000 -duration 30s
run bin/billbench -mode settle -settle 1000 -workers 32 -sandbox bin/plugins/processor-sandbox
say "## issue 13: one group show with 200 paying seats (card holds, then wallet)"
run bin/billbench -mode group -group 200 -duration 30s -sandbox bin/plugins/processor-sandbox
run bin/billbench -mode group -group 200 -duration 30s -strategy wallet
say "## issue 5: SFU fan-out and WHEP join"
go build -o bin/streambench ./cmd/streambench
run bin/streambench -joins 20 -steps 100,150,200,300 -window 10s
say "## issue 6: home page through the theme plugin, chat fan-out"
run go test -run '^$' -bench HomePage100Live -benchtime 5s ./core/app
run go test -run '^$' -bench RoomFanout1000 -benchtime 200x ./core/chat
say "## issue 10: the host's own cost of a request (fiber Immutable, metrics, security headers)"
run go test -run '^$' -bench RequestOverhead -benchtime 300000x ./core/web
say "# done — load: $(cut -d' ' -f1-3 /proc/loadavg)"
