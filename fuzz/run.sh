#!/bin/sh
# fuzz/run.sh - builds every libFuzzer harness (clang, ASan + UBSan) and runs
# each for FUZZ_SECONDS.  Owner: fuzzing.  `make fuzz` calls it.
#
#   fuzz/run.sh [TARGET...]          all targets when none is named
#   FUZZ_SECONDS=60                  run time per harness (0: build only)
#   FUZZ_BUILD=DIR                   build dir (default ./fuzz-build)
#   FUZZ_MERGE=1                     merge inputs that add coverage into
#                                    fuzz/corpus/TARGET (otherwise the repo
#                                    corpus is only read)
#   FUZZ_FLAGS="..."                 more libFuzzer flags (e.g. -runs=N)
#   CC=clang                         a clang with libFuzzer (Debian:
#                                    clang + libclang-rt-14-dev)
# One fuzzer at a time, one process (no -jobs): the machines are shared.
# Crashes land in $FUZZ_BUILD/artifacts/TARGET/; the script ends non-zero
# when any harness found one.
set -eu

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
pkgs="libcurl jansson libpq libcrypto libsystemd fcgi"
pcflags=$(pkg-config --cflags $pkgs)
pclibs=$(pkg-config --libs $pkgs)

# target:max_len (bytes): sized to what the real input may be.
targets_all="encode:4096 crypto:4096 domain:256 jwt:8300 jwks:16384
 config:8192 body:4096 query:4096 oauth:8192 openai:16384 sales:8192
 copy:16384 shopify:32768 pinterest:16384 install:8192"

mkdir -p "$build/lib" "$build/bin"

# The library, instrumented for coverage.  A lib file that does not compile
# (someone's work in progress) is skipped with a warning: only the objects
# a harness needs are taken from the archive.
objs=
for src in "$top"/lib/*.c; do
	obj="$build/lib/$(basename "$src" .c).o"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
	    [ -n "$(find "$top/lib" -name '*.h' -newer "$obj" | head -1)" ]; then
		if ! $cc $cflags -fsanitize=fuzzer-no-link $pcflags -c "$src" \
		    -o "$obj"; then
			echo "run.sh: warning: $src does not compile; skipped" >&2
			rm -f "$obj"
			continue
		fi
	fi
	objs="$objs $obj"
done
rm -f "$build/libreboss-fuzz.a"
ar rcs "$build/libreboss-fuzz.a" $objs

# The API's router and routes (not main.c, which has main()), for the
# query and body harnesses.
fcgiobjs=
for src in "$top"/fcgi/*.c; do
	case $(basename "$src") in main.c) continue ;; esac
	obj="$build/lib/fcgi_$(basename "$src" .c).o"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
	    [ "$top/fcgi/api.h" -nt "$obj" ]; then
		$cc $cflags -fsanitize=fuzzer-no-link $pcflags -c "$src" \
		    -o "$obj"
	fi
	fcgiobjs="$fcgiobjs $obj"
done

if [ $# -gt 0 ]; then
	want=$*
else
	want=$(for t in $targets_all; do echo "${t%%:*}"; done)
fi

found=0
for t in $want; do
	maxlen=4096
	for e in $targets_all; do
		[ "${e%%:*}" = "$t" ] && maxlen=${e#*:}
	done
	src="$top/fuzz/fuzz_$t.c"
	[ -f "$src" ] || { echo "run.sh: no harness $src" >&2; exit 2; }
	extra=
	case $t in body|query) extra=$fcgiobjs ;; esac
	$cc $cflags -fsanitize=fuzzer $pcflags -I"$top/fcgi" -o \
	    "$build/bin/fuzz_$t" "$src" $extra "$build/libreboss-fuzz.a" \
	    $pclibs -lm
	[ "$seconds" -gt 0 ] || continue

	work="$build/corpus/$t"
	art="$build/artifacts/$t"
	mkdir -p "$work" "$art"
	echo "=== fuzz_$t: ${seconds}s, max_len $maxlen"
	# Quiet logs: the code under test may log to stderr.
	if ! "$build/bin/fuzz_$t" -max_total_time="$seconds" \
	    -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$art/" \
	    ${FUZZ_FLAGS:-} "$work" "$top/fuzz/corpus/$t" </dev/null \
	    >"$build/fuzz_$t.log" 2>&1; then
		echo "fuzz_$t: FOUND A CRASH, see $build/fuzz_$t.log and $art/"
		grep -m 5 -E 'ERROR|SUMMARY|invariant|runtime error' \
		    "$build/fuzz_$t.log" || true
		found=1
	fi
	grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' \
	    "$build/fuzz_$t.log" | tail -2 || true
	if [ "$merge" = 1 ]; then
		"$build/bin/fuzz_$t" -merge=1 -max_len="$maxlen" \
		    "$top/fuzz/corpus/$t" "$work" </dev/null \
		    >"$build/fuzz_$t.merge.log" 2>&1 ||
		    echo "fuzz_$t: merge failed, see $build/fuzz_$t.merge.log"
	fi
done
exit $found
