#!/usr/bin/env bash
# `make fuzz`: runs every native Go fuzz target (func FuzzXxx(f *testing.F))
# of both modules (the host's and sdk/) for FUZZTIME each, one after another,
# and fails if any of them finds a failing input. go test writes such an input
# to the package's testdata/fuzz/<Target>/; commit it with the fix, it then
# runs as a seed in `make test`.
#
# Targets are found by grepping the *_test.go files, so a new one is run
# without touching this script. Settings (environment):
#   FUZZTIME      time per target (go test -fuzztime), default 30s
#   FUZZPARALLEL  fuzzing workers per target (go test -parallel), default 1
#   FUZZMINIMIZETIME  go test -fuzzminimizetime, default 5s: go minimizes every
#                 new interesting input too, by default for up to 60s each,
#                 which can leave a 30s run with almost no execs
#   FUZZ          an extended regexp: only targets whose name matches run
# The summary (target, package, time, execs, result) is printed and kept in
# fuzz.out; each target's full output in $FUZZLOGS (default bin/fuzz-logs).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZPARALLEL=${FUZZPARALLEL:-1}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
FUZZ=${FUZZ:-.}
logs=${FUZZLOGS:-$root/bin/fuzz-logs}
out=$root/fuzz.out
export CAMKIT_BIN=${CAMKIT_BIN:-$root/bin}
mkdir -p "$logs"

# targets prints "<module dir> <package dir> <target>" for each fuzz target.
targets() {
	local mod=$1 prune=()
	[ "$mod" = . ] && prune=(-path ./sdk -prune -o -path ./bin -prune -o)
	(cd "$mod" && find . "${prune[@]}" -name '*_test.go' -print | sort |
		while read -r f; do
			sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(f \*testing\.F\).*/\1/p' "$f" |
				while read -r t; do echo "$mod $(dirname "$f") $t"; done
		done)
}

say() { echo "$@" | tee -a "$out"; }
: > "$out"
say "# camkit fuzz — $(date -u +%FT%TZ) — FUZZTIME=$FUZZTIME FUZZPARALLEL=$FUZZPARALLEL FUZZMINIMIZETIME=$FUZZMINIMIZETIME — $(nproc) cores"
say "| target | package | time | execs | result |"
say "|---|---|---|---|---|"
failed=0
while read -r mod pkg target; do
	[[ $target =~ $FUZZ ]] || continue
	log=$logs/$target.log
	(cd "$mod" && $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" -parallel "$FUZZPARALLEL" "$pkg") >"$log" 2>&1
	rc=$?
	last=$(grep -E '^fuzz: elapsed: ' "$log" | tail -1)
	elapsed=$(sed -nE 's/^fuzz: elapsed: ([^,]+),.*/\1/p' <<<"$last")
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
	result=ok
	if [ $rc -ne 0 ]; then
		failed=1
		input=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | head -1)
		result="FAILED${input:+: $pkg/$input} (log: ${log#"$root"/})"
	fi
	name=${pkg#./}
	[ "$mod" = . ] || name=$mod/$name
	say "| $target | $name | ${elapsed:-?} | ${execs:-?} | $result |"
done < <(targets .; targets sdk)
if [ $failed -ne 0 ]; then
	say "fuzz: a target failed; its input is in the package's testdata/fuzz/, its output in $logs"
	exit 1
fi
say "fuzz: every target passed"
