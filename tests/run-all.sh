#!/usr/bin/env bash
# tests/run-all.sh - every test of ReBoss, as CI runs it (.ci/run calls this).
#
#   1. installs the Debian packages the build and the tests need (skipped
#      when all are present, so reruns are fast)
#   2. npm ci in tests/ (the fakes' GraphQL validator)
#   3. autoreconf, configure and make in a build dir ($REBOSS_BUILDDIR,
#      default build/ under the repo)
#   4. make check: the C unit tests (TAP)
#   5. make distcheck when RUN_DISTCHECK=1 (default on when CI=true)
#   6. node --test over tests/fakes/*.test.mjs and tests/integration/*.test.mjs
#      against the real stack (PostgreSQL, nginx, spawn-fcgi, reboss-api)
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
PKGS="build-essential autoconf automake libtool pkgconf libfcgi-dev
libcurl4-openssl-dev libjansson-dev libpq-dev libssl-dev libsystemd-dev
postgresql nginx-light spawn-fcgi curl openssl ca-certificates
debhelper dpkg-dev fakeroot lintian chromium systemd prometheus"
missing=
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing="$missing $p"
done
# node may come from Debian (nodejs + npm) or from another nodejs package
# that bundles npm: only ask apt when the commands are missing.
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
	# The packages start their system services; the tests run their own
	# private instances and want nothing else listening.
	case " $missing " in *" postgresql "*)
		$SUDO service postgresql stop >/dev/null 2>&1 || true ;;
	esac
	case " $missing " in *" nginx-light "*)
		$SUDO service nginx stop >/dev/null 2>&1 || true ;;
	esac
	# prometheus is here for promtool only.
	case " $missing " in *" prometheus "*)
		$SUDO service prometheus stop >/dev/null 2>&1 || true
		$SUDO service prometheus-node-exporter stop >/dev/null 2>&1 || true ;;
	esac
else
	say "packages: all present"
fi

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
if [ ! -f "$BUILD/Makefile" ]; then
	say "configure ($BUILD)"
	(cd "$BUILD" && "$REPO/configure" -q)
fi
say "make"
make -C "$BUILD" -j2

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

finished=1
echo "run time: $(( $(date +%s) - START )) s" >&2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
