#!/usr/bin/env bash
# tests/lint.sh - static analysis of the C sources (lib fcgi ctl jobs):
# cppcheck and clang-tidy (.clang-tidy), both with the compile flags from
# pkg-config.  Exits non-zero on any finding.  Called by tests/run-all.sh
# (one test) and by `make lint`.
#
# A finding is fixed, or suppressed where it is made with the reason:
#   cppcheck:   // cppcheck-suppress <id> -- why
#   clang-tidy: // NOLINT(<check>): why
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
JOBS=${LINT_JOBS:-2}

for t in cppcheck clang-tidy pkg-config; do
	command -v "$t" >/dev/null ||
	    { echo "lint.sh: $t is not installed (apt-get install ${t/pkg-config/pkgconf})" >&2; exit 2; }
done

mapfile -t SRCS < <(ls lib/*.c fcgi/*.c ctl/*.c jobs/*.c)
# shellcheck disable=SC2207
PKG=($(pkg-config --cflags libcurl jansson libpq libcrypto libsystemd fcgi))
DEFS=(-DREBOSS_SQLDIR='"/usr/share/reboss/sql"' -DREBOSS_SYSCONFDIR='"/etc"'
    -DREBOSS_BINDIR='"/usr/bin"' -DPACKAGE_VERSION='"lint"' -DPACKAGE_STRING='"reboss-lint"' -DPACKAGE='"reboss"')
rc=0

echo "lint: cppcheck (${#SRCS[@]} files)"
# --include jansson.h: its json_*_foreach macros must be known, but the
# system headers themselves are not what is checked.
# readdirCalled: readdir_r() is deprecated in glibc; readdir() is the
# documented, safe call for one stream per thread.
# lib/metrics.c: cppcheck's posix.cfg wants fd >= 0 for mmap() even with
# MAP_ANONYMOUS (which takes -1), and counts the MAP_SHARED region, kept
# for the life of the process on purpose, as a leak.
if ! cppcheck -q -j "$JOBS" --std=c11 --library=posix \
    --enable=warning,performance,portability --error-exitcode=1 \
    --inline-suppr --suppress=readdirCalled \
    --suppress=invalidFunctionArg:lib/metrics.c --suppress=memleak:lib/metrics.c \
    -I lib -I fcgi -I ctl "${DEFS[@]}" --include=/usr/include/jansson.h \
    "${SRCS[@]}"; then
	echo "lint: cppcheck: FAILED" >&2
	rc=1
fi

echo "lint: clang-tidy (${#SRCS[@]} files, .clang-tidy)"
# No value in FLAGS contains a space: it is split into words on purpose.
FLAGS="-std=gnu11 -Ilib -Ifcgi -Ictl ${DEFS[*]} ${PKG[*]}"
export FLAGS
tidy_one() {
	local model=
	[ "$1" = lib/rb.c ] || model="-include tests/lint-model.h"
	# shellcheck disable=SC2086
	clang-tidy --quiet "$1" -- $FLAGS $model 2>/dev/null ||
	    { echo "clang-tidy: findings or errors in $1"; return 1; }
}
export -f tidy_one
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# clang-tidy prints the findings on stdout and counts on stderr; it exits
# non-zero on a finding (WarningsAsErrors) or a file that does not parse.
if ! printf '%s\n' "${SRCS[@]}" |
    xargs -P "$JOBS" -I{} bash -c 'tidy_one "$1"' _ {} >"$out"; then
	rc=1
fi
if [ -s "$out" ]; then
	cat "$out"
	rc=1
fi
[ "$rc" -eq 0 ] && echo "lint: clean" || echo "lint: FAILED" >&2
exit "$rc"
