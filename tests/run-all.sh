#!/usr/bin/env bash
# tests/run-all.sh - every test of ReBoss, as CI runs it (.ci/run calls this).
#
#   1. installs the Debian packages the build and the tests need (skipped
#      when all are present, so reruns are fast)
#   2. npm ci in tests/ (the fakes' GraphQL validator)
#   3. autoreconf, configure and make in a build dir ($REBOSS_BUILDDIR,
#      default build/ under the repo)
#   4. make check: the C unit tests (TAP)
#   4b. fuzz/run.sh: every libFuzzer harness built with clang and run for
#      FUZZ_CI_SECONDS (default 3) each, one result per harness
#   5. make distcheck when RUN_DISTCHECK=1 (default on when CI=true)
#   6. node --test over tests/fakes/*.test.mjs and tests/integration/*.test.mjs
#      against the real stack (PostgreSQL, nginx, spawn-fcgi, reboss-api)
#   7. tests/lint.sh: cppcheck + clang-tidy (one test)
#
# REBOSS_SANITIZERS=1 (default on when CI=true) builds with
# --enable-sanitizers (ASan + UBSan, LeakSanitizer) and runs everything on
# that build; every sanitizer report goes to $BUILD/asan/ (ASAN_OPTIONS
# log_path, inherited by every child: API workers, job workers, rebossctl)
# and each report file counts as one failure.  valgrind.test.mjs cannot run
# on an ASan build: it gets a second, plain build ($BUILD-plain, only the
# API, rebossctl and one job) through REBOSS_VALGRIND_BUILDDIR.
#
# Ends with exactly one line "N passed, N failed" (unit + node tests) and
# exits non-zero when anything failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
START=$(date +%s)

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "run-all.sh: not root and no sudo" >&2; exit 2; }
	SUDO=sudo
fi

say() { printf '\n=== %s\n' "$*"; }

# Whatever stops the script early (a missing package, a build error), it
# still closes with the summary line, counting the stop as one failure.
passed=0
failed=0
finished=0
on_exit() {
	rc=$?
	if [ "$finished" -eq 0 ]; then
		echo "run-all.sh: stopped early (exit $rc)" >&2
		echo "run time: $(( $(date +%s) - START )) s" >&2
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	fi
}
trap on_exit EXIT

# --- 1. packages -------------------------------------------------------------
# tests/lib/packages.sh: ensure_packages and the build list
# RB_BUILD_PACKAGES (shared with tests/demo.sh); the tests also need these.
# shellcheck source=tests/lib/packages.sh
. "$REPO/tests/lib/packages.sh"
# shellcheck disable=SC2086
ensure_packages $RB_BUILD_PACKAGES \
    debhelper dpkg-dev fakeroot lintian chromium systemd prometheus valgrind cppcheck clang-tidy \
    bash-completion clang libclang-rt-14-dev
[ -n "$ENSURE_PACKAGES_INSTALLED" ] || say "packages: all present"

# --- 2. node dependencies ------------------------------------------------------
say "npm ci (tests/)"
(cd tests && npm ci --no-audit --no-fund --loglevel=error)

# --- 3. build ----------------------------------------------------------------
BUILD=${REBOSS_BUILDDIR:-$REPO/build}
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
export REBOSS_BUILDDIR="$BUILD"
if [ ! -x configure ] || [ ! -f Makefile.in ] || [ configure.ac -nt configure ] ||
    [ Makefile.am -nt Makefile.in ]; then
	say "autoreconf -fi"
	autoreconf -fi
fi
SAN=${REBOSS_SANITIZERS:-$([ "${CI:-}" = true ] && echo 1 || echo 0)}
san_flags=()
[ "$SAN" = 1 ] && san_flags=(--enable-sanitizers)
# A build dir configured the other way is cleaned and configured again
# (make does not rebuild objects when only the flags change).
if [ -f "$BUILD/Makefile" ]; then
	have=0
	grep -q '^SAN_CFLAGS = -fsanitize' "$BUILD/Makefile" && have=1
	if [ "$have" != "$SAN" ]; then
		make -C "$BUILD" clean >/dev/null 2>&1 || true
		rm -f "$BUILD/Makefile"
	fi
fi
if [ ! -f "$BUILD/Makefile" ]; then
	say "configure ($BUILD ${san_flags[*]})"
	(cd "$BUILD" && "$REPO/configure" -q "${san_flags[@]}")
fi
say "make"
make -C "$BUILD" -j2

# Sanitizer settings for every process of the run (children inherit them).
# log_path: a report of a child whose stderr no test reads (an API worker,
# a job worker) still fails the run below.
SANDIR="$BUILD/asan"
rm -rf "$SANDIR"
mkdir -p "$SANDIR"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:log_path=$SANDIR/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SANDIR/ubsan"

# valgrind.test.mjs needs a build without ASan.
if [ "$SAN" = 1 ] && command -v valgrind >/dev/null; then
	PLAIN="$BUILD-plain"
	say "plain build for valgrind ($PLAIN)"
	mkdir -p "$PLAIN"
	[ -f "$PLAIN/Makefile" ] || (cd "$PLAIN" && "$REPO/configure" -q)
	make -C "$PLAIN" -j2 fcgi/reboss-api ctl/rebossctl jobs/reboss-sales-tracker
	export REBOSS_VALGRIND_BUILDDIR="$PLAIN"
fi

# --- 4. unit tests -------------------------------------------------------------
say "make check"
unit_rc=0
find "$BUILD/tests/unit" -name '*.trs' -delete 2>/dev/null || true
# -k: build every unit test that compiles, even when one does not.
make -C "$BUILD" -k -j2 check || unit_rc=$?
unbuilt=0
if [ "$unit_rc" -ne 0 ] && ! ls "$BUILD"/tests/unit/*.trs >/dev/null 2>&1; then
	# automake builds every check program before it runs any test, so one
	# unit test that does not compile would hide all the others: run those
	# that built, and count each one that did not as a failure.
	all_tests=$(printf 'rb-print-tests:\n\t@echo $(TESTS)\n' |
	    make -s -C "$BUILD" -f Makefile -f - rb-print-tests)
	built=()
	for t in $all_tests; do
		if [ -x "$BUILD/$t" ]; then
			built+=("$t")
		else
			echo "unit test $t did not build: counted as failed" >&2
			unbuilt=$((unbuilt + 1))
		fi
	done
	if [ ${#built[@]} -gt 0 ]; then
		make -C "$BUILD" check-TESTS TESTS="${built[*]}" \
		    check_PROGRAMS="${built[*]}" || true
	fi
fi
up=0
uf=0
shopt -s nullglob
for trs in "$BUILD"/tests/unit/*.trs; do
	# tap-driver.sh: one ":test-result:" line per TAP test point, ERROR for
	# a program that crashed or printed a bad plan.
	p=$(grep -cE '^:test-result: (PASS|XFAIL)' "$trs" || true)
	f=$(grep -cE '^:test-result: (FAIL|XPASS|ERROR)' "$trs" || true)
	up=$((up + p))
	uf=$((uf + f))
done
uf=$((uf + unbuilt))
if [ "$unit_rc" -ne 0 ] && [ "$uf" -eq 0 ]; then
	echo "make check failed before any test failed (build error?)" >&2
	uf=1
fi
echo "unit tests: $up passed, $uf failed"
passed=$((passed + up))
failed=$((failed + uf))

# --- 4b. fuzzers -----------------------------------------------------------------
# Every harness (fuzz/fuzz_*.c) built with clang's libFuzzer and run for a
# few seconds: one that stops linking or aborts at once fails here, with
# one result per harness.  The fuzzers keep their own sanitizer settings
# (a report goes to the harness's log, which run.sh quotes), not $SANDIR's.
FUZZ_CI_SECONDS=${FUZZ_CI_SECONDS:-3}
say "fuzzers (fuzz/run.sh, ${FUZZ_CI_SECONDS} s each)"
fuzz_log="$BUILD/fuzz-ci.log"
env -u ASAN_OPTIONS -u UBSAN_OPTIONS FUZZ_BUILD="$BUILD/fuzz-build" \
    FUZZ_SECONDS="$FUZZ_CI_SECONDS" sh fuzz/run.sh >"$fuzz_log" 2>&1 || true
grep -E '^fuzz_[a-z0-9_]+: (ok|FAILED)' "$fuzz_log" || true
fp=$(grep -cE '^fuzz_[a-z0-9_]+: ok' "$fuzz_log" || true)
ff=$(grep -cE '^fuzz_[a-z0-9_]+: FAILED' "$fuzz_log" || true)
harnesses=(fuzz/fuzz_*.c)
if [ $((fp + ff)) -lt ${#harnesses[@]} ]; then
	# run.sh stopped before reporting every harness (no clang?)
	tail -n 30 "$fuzz_log"
	ff=$((${#harnesses[@]} - fp))
fi
echo "fuzzers: $fp passed, $ff failed (log: $fuzz_log)"
passed=$((passed + fp))
failed=$((failed + ff))

# --- 5. distcheck ----------------------------------------------------------------
if [ "${RUN_DISTCHECK:-$([ "${CI:-}" = true ] && echo 1 || echo 0)}" = 1 ]; then
	say "make distcheck"
	if make -C "$BUILD" -j2 distcheck >"$BUILD/distcheck.log" 2>&1; then
		echo "distcheck: ok"
		passed=$((passed + 1))
	else
		tail -n 60 "$BUILD/distcheck.log"
		echo "distcheck: FAILED (full log: $BUILD/distcheck.log)"
		failed=$((failed + 1))
	fi
fi

# --- 6. node tests (fakes, then the integration suites) ------------------------
files=(tests/fakes/*.test.mjs tests/integration/*.test.mjs)
if [ ${#files[@]} -gt 0 ]; then
	say "node --test (${#files[@]} files)"
	tap="$BUILD/node-tests.tap"
	rm -f "$tap"
	node_rc=0
	# No test may hang CI: a per-test limit where this node has the flag.
	limit=()
	if node --help 2>/dev/null | grep -q -- '--test-timeout'; then
		limit=(--test-timeout=600000)
	fi
	node --test "${limit[@]}" --test-reporter=spec --test-reporter-destination=stdout \
	    --test-reporter=tap --test-reporter-destination="$tap" \
	    "${files[@]}" || node_rc=$?
	np=0
	nf=0
	if [ -f "$tap" ]; then
		# The TAP reporter closes with "# pass N", "# fail N", "# cancelled N".
		np=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n1)
		nf=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -n1)
		nc=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap" | tail -n1)
		np=${np:-0}
		nf=$((${nf:-0} + ${nc:-0}))
	fi
	if [ "$node_rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		echo "node --test failed (exit $node_rc) without a failing test" >&2
		nf=1
	fi
	echo "node tests: $np passed, $nf failed"
	passed=$((passed + np))
	failed=$((failed + nf))
fi

# --- 7. static analysis ----------------------------------------------------------
say "lint (tests/lint.sh)"
if bash tests/lint.sh; then
	passed=$((passed + 1))
else
	echo "lint: FAILED"
	failed=$((failed + 1))
fi

# --- sanitizer reports of any process of the run ----------------------------------
reports=("$SANDIR"/*)
if [ ${#reports[@]} -gt 0 ]; then
	say "sanitizer reports: ${#reports[@]} (each counted as a failure)"
	for f in "${reports[@]}"; do
		echo "--- $f"
		head -n 80 "$f"
	done
	failed=$((failed + ${#reports[@]}))
fi

finished=1
echo "run time: $(( $(date +%s) - START )) s" >&2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
