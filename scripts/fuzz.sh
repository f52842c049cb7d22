#!/usr/bin/env bash
# Runs each fuzz target given (package:FuzzName) for FUZZTIME, FUZZ_JOBS (2) at a time. Go's fuzzer
# now and then fails without a finding when its time runs out under load: a failed target runs
# once more, and fails for good only if it fails again (a real finding is saved in the package's
# testdata/fuzz, and fails again).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache/fuzz
export FUZZTIME="${FUZZTIME:-4s}"

fuzz() {
	local out=".cache/fuzz/$1.out"
	run() { go test -run '^$' -fuzz "^${1#*:}\$" -fuzztime "$FUZZTIME" "./${1%%:*}" > "$out" 2>&1; }
	if run "$1" || { tail -30 "$out"; echo "$1 failed: once more"; run "$1"; }; then
		echo "$1: $(tail -1 "$out")"
	else
		tail -30 "$out"
		echo "$1 failed twice"
		return 1
	fi
}
export -f fuzz
printf '%s\n' "$@" | xargs -P "${FUZZ_JOBS:-2}" -I{} bash -c 'fuzz {}'
