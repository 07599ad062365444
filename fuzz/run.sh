#!/bin/sh
# fuzz/run.sh - builds every libFuzzer harness (clang, ASan + UBSan) and runs
# each for FUZZ_SECONDS.  Owner: fuzzing.  `make fuzz` and tests/run-all.sh
# (CI: 3 s each) call it.
#
#   fuzz/run.sh [TARGET...]          all targets (every fuzz/fuzz_*.c) when
#                                    none is named
#   FUZZ_SECONDS=60                  run time per harness (0: build only)
#   FUZZ_BUILD=DIR                   build dir (default ./fuzz-build)
#   FUZZ_MERGE=1                     merge inputs that add coverage into
#                                    fuzz/corpus/TARGET (otherwise the repo
#                                    corpus is only read)
#   FUZZ_FLAGS="..."                 more libFuzzer flags (e.g. -runs=N)
#   CC=clang                         a clang with libFuzzer (Debian:
#                                    clang + libclang-rt-14-dev)
# One fuzzer at a time, one process (no -jobs): the machines are shared.
# A harness that does not build, or that crashes, does not stop the others:
# each ends with one line "fuzz_TARGET: ok ..." or "fuzz_TARGET: FAILED ..."
# (run-all.sh counts them).  Crashes land in $FUZZ_BUILD/artifacts/TARGET/;
# the script ends non-zero when any harness failed.
set -eu

# One compound command: sh reads all of it before running any, so editing
# this file during an hour-long campaign does not change the running one.
{
top=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$PWD/fuzz-build}
seconds=${FUZZ_SECONDS:-60}
merge=${FUZZ_MERGE:-0}
cc=${CC:-clang}
case $cc in *clang*) ;; *) cc=clang ;; esac

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $san -I$top/lib \
 -DREBOSS_SQLDIR=\"/usr/share/reboss/sql\" -DREBOSS_SYSCONFDIR=\"/etc\" \
 -DPACKAGE_VERSION=\"fuzz\" -DPACKAGE_NAME=\"reboss\" -DPACKAGE_STRING=\"reboss-fuzz\""
# The libraries come from configure.ac's RB_DEP lines, the one list the
# build also uses (a hand-kept copy here once lost libssl, and every
# harness linking http.o stopped linking).
pkgs=$(sed -n 's/^RB_DEP(\[[A-Z_]*\], *\[\([^]]*\)\].*/\1/p' \
    "$top/configure.ac" | sed 's/ *[<>=]* *[0-9][0-9.]*//g' | tr '\n' ' ')
[ -n "$pkgs" ] || { echo "run.sh: no RB_DEP line in configure.ac" >&2; exit 2; }
# shellcheck disable=SC2086
pcflags=$(pkg-config --cflags $pkgs)
# shellcheck disable=SC2086
pclibs=$(pkg-config --libs $pkgs)

# max_len (bytes) per target, sized to what the real input may be; 4096
# for a target not listed.
max_lens="encode:4096 crypto:4096 domain:256 jwt:8300 jwks:16384
 config:8192 body:4096 query:4096 oauth:8192 openai:16384 sales:8192
 copy:16384 shopify:32768 pinterest:16384 install:8192 request:4096
 http:4096 catalog:8192 bulk:65536"

mkdir -p "$build/lib" "$build/bin"

# Compiles $1 into $2 with coverage when the object is missing or older
# than the source or any header of $3 (a directory).
compile() {
	if [ ! -f "$2" ] || [ "$1" -nt "$2" ] ||
	    [ -n "$(find "$3" "$top/lib" -name '*.h' -newer "$2" | head -1)" ]; then
		# shellcheck disable=SC2086
		$cc $cflags -fsanitize=fuzzer-no-link $pcflags -I"$top/fcgi" \
		    -c "$1" -o "$2"
	fi
}

# The library and the API's objects (not fcgi/main.c, which has main()),
# instrumented for coverage, as two archives: a harness takes only the
# objects it needs.  A file that does not compile (someone's work in
# progress) is skipped with a warning; a harness that needs it then fails
# to link, and is reported.
objs=
fcgiobjs=
for src in "$top"/lib/*.c "$top"/fcgi/*.c; do
	dir=$(basename "$(dirname "$src")")
	case $dir/$(basename "$src") in fcgi/main.c) continue ;; esac
	obj="$build/lib/${dir}_$(basename "$src" .c).o"
	if ! compile "$src" "$obj" "$top/$dir"; then
		echo "run.sh: warning: $src does not compile; skipped" >&2
		rm -f "$obj"
		continue
	fi
	case $dir in
	lib) objs="$objs $obj" ;;
	*) fcgiobjs="$fcgiobjs $obj" ;;
	esac
done
rm -f "$build/libreboss-fuzz.a" "$build/libreboss-fcgi-fuzz.a"
# shellcheck disable=SC2086
ar rcs "$build/libreboss-fuzz.a" $objs
# shellcheck disable=SC2086
ar rcs "$build/libreboss-fcgi-fuzz.a" $fcgiobjs

if [ $# -gt 0 ]; then
	want=$*
else
	want=$(for f in "$top"/fuzz/fuzz_*.c; do
		b=$(basename "$f" .c)
		echo "${b#fuzz_}"
	done)
fi

failed=0
for t in $want; do
	maxlen=4096
	for e in $max_lens; do
		[ "${e%%:*}" = "$t" ] && maxlen=${e#*:}
	done
	src="$top/fuzz/fuzz_$t.c"
	if [ ! -f "$src" ]; then
		echo "fuzz_$t: FAILED (no harness $src)"
		failed=1
		continue
	fi
	# shellcheck disable=SC2086
	if ! $cc $cflags -fsanitize=fuzzer $pcflags -I"$top/fcgi" -o \
	    "$build/bin/fuzz_$t" "$src" "$build/libreboss-fcgi-fuzz.a" \
	    "$build/libreboss-fuzz.a" $pclibs -lm \
	    >"$build/fuzz_$t.build.log" 2>&1; then
		cat "$build/fuzz_$t.build.log"
		echo "fuzz_$t: FAILED (does not build)"
		failed=1
		continue
	fi
	if [ "$seconds" -le 0 ]; then
		echo "fuzz_$t: ok (built)"
		continue
	fi

	work="$build/corpus/$t"
	art="$build/artifacts/$t"
	mkdir -p "$work" "$art"
	echo "=== fuzz_$t: ${seconds}s, max_len $maxlen"
	# Quiet logs: the code under test may log to stderr.
	rc=0
	# shellcheck disable=SC2086
	"$build/bin/fuzz_$t" -max_total_time="$seconds" \
	    -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$art/" \
	    ${FUZZ_FLAGS:-} "$work" "$top/fuzz/corpus/$t" </dev/null \
	    >"$build/fuzz_$t.log" 2>&1 || rc=$?
	# the last status line: "#N DONE cov: C ft: F corp: ..."
	last=$(grep -E '^#[0-9]+' "$build/fuzz_$t.log" | tail -1 |
	    sed 's/ *corp:.*//; s/^#\([0-9]*\)[^c]*/\1 runs, /')
	if [ "$rc" -ne 0 ]; then
		grep -m 5 -E 'ERROR|SUMMARY|invariant|runtime error' \
		    "$build/fuzz_$t.log" || true
		echo "fuzz_$t: FAILED (exit $rc, see $build/fuzz_$t.log and $art/)"
		failed=1
	else
		echo "fuzz_$t: ok ($last)"
	fi
	if [ "$merge" = 1 ]; then
		"$build/bin/fuzz_$t" -merge=1 -max_len="$maxlen" \
		    "$top/fuzz/corpus/$t" "$work" </dev/null \
		    >"$build/fuzz_$t.merge.log" 2>&1 ||
		    echo "fuzz_$t: merge failed, see $build/fuzz_$t.merge.log"
	fi
done
exit $failed
}
