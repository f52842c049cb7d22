#!/usr/bin/env bash
# The test suite after `make verify` (make test runs both), on the Postgres and Redis named by
# DRIPCAST_DATABASE_URL and DRIPCAST_REDIS_URL.
#
# The end-to-end tests mostly wait, for paces, delays and faults to play out (they use a fifth of
# the machine), and some count sends per wall-clock second: they run at normal priority, those
# that count and the fault scenarios one at a time, then the others (t.Parallel) three at a time
# (4 made a drip step wait 20 s on two cores). Every other package's tests, and the fuzz targets,
# run beside them at the lowest CPU priority (nice 19), so the processes under test get the CPU
# when they want it; the fuzz targets take what CPU the package tests leave while they wait.
# TestPacingHoldsUnderStalls runs last, alone: it loads every core on purpose (without the race
# detector, which would slow metasim, the referee, rather than Dripcast's processes).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
scripts/chromium.sh || exit 1

# lane runs a command at nice 19 in the background, its output in .cache/test-NAME.out.
lane() {
	local name=$1
	shift
	(
		nice -n 19 "$@"
		status=$?
		echo "($name: done after $SECONDS s)"
		exit $status
	) > ".cache/test-$name.out" 2>&1 &
}
lane packages go test -count=1 -race -timeout=30m $(go list ./... | grep -v /e2e)
packages=$!
# TestImport100kRows skips itself under the race detector (56 s there): it runs here without it.
lane fuzz bash -c "make --no-print-directory fuzz && go test -count=1 -run '^TestImport100kRows\$' ./api"
fuzz=$!

echo "end-to-end tests; the other packages' tests and the fuzz targets beside them (.cache/test-packages.out, .cache/test-fuzz.out)"
failed=0
go test -count=1 -race -timeout=30m -parallel 3 -skip '^TestPacingHoldsUnderStalls$' ./e2e || failed=1
echo "(e2e: done after $SECONDS s)"
for lane in packages fuzz; do
	wait "${!lane}" || failed=1
	cat ".cache/test-$lane.out"
done
go test -count=1 -timeout=10m -run '^TestPacingHoldsUnderStalls$' ./e2e || failed=1
echo "(pacing: done after $SECONDS s)"
if [ $failed = 0 ]; then echo "make test: every test passed in $SECONDS s"; else echo "make test: FAILED (after $SECONDS s)"; fi
exit $failed
