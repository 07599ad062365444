#!/bin/sh
# bench/run.sh - every benchmark of issue 8 in one command (`make bench` calls
# it).  Prints tables, writes JSON to bench/results/ (or $BENCH_OUT_DIR).
# Benchmarks assert nothing about time: the exit status only says whether
# they could run.
#
#   REBOSS_BUILDDIR=/path/to/build bench/run.sh
#
# Needs (Debian): wrk python3-flask python3-flask-cors python3-requests
# gunicorn, plus what the tests need (nginx, spawn-fcgi, postgresql, node,
# curl).  BENCH_ONLY=api|jobs runs one part.  Every knob of the parts is in
# the heading comment of bench/api.mjs and bench/jobs.mjs.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
: "${REBOSS_BUILDDIR:=$src/build}"
export REBOSS_BUILDDIR
: "${BENCH_OUT_DIR:=$src/bench/results}"
export BENCH_OUT_DIR
only=${BENCH_ONLY:-all}

missing=""
for c in wrk gunicorn nginx spawn-fcgi node curl; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
python3 -c 'import flask, flask_cors, requests' 2>/dev/null ||
	missing="$missing python3-flask/python3-flask-cors/python3-requests"
if [ -n "$missing" ]; then
	echo "bench/run.sh: missing:$missing" >&2
	echo "  apt-get install wrk python3-flask python3-flask-cors python3-requests gunicorn" >&2
	exit 2
fi
for b in fcgi/reboss-api ctl/rebossctl jobs/reboss-sales-tracker tests/jobs/job_probe; do
	if [ ! -x "$REBOSS_BUILDDIR/$b" ]; then
		echo "bench/run.sh: $REBOSS_BUILDDIR/$b missing: make all tests/jobs/job_probe first" >&2
		exit 2
	fi
done
if [ ! -d "$src/tests/node_modules/graphql" ]; then
	(cd "$src/tests" && npm ci --no-audit --no-fund)
fi

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"$(awk '/^MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo), $(uname -sr)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)

if [ "$only" = all ] || [ "$only" = api ]; then
	echo
	node "$src/bench/api.mjs"
fi
if [ "$only" = all ] || [ "$only" = edge ]; then
	echo
	node "$src/bench/edge.mjs"
fi
if [ "$only" = all ] || [ "$only" = jobs ]; then
	echo
	# What the job runtime alone costs per shop (no work, no upstream),
	# with the database over TCP + SCRAM and over the unix socket + trust.
	for db in tcp socket; do
		BENCH_DB=$db BENCH_JOB=probe BENCH_PROBE_SLEEP_MS=0 BENCH_SHOPS=1000 \
			BENCH_REPEAT=2 BENCH_TEMPLATES=10 node "$src/bench/jobs.mjs"
		echo
	done
	# sales_tracker: 1,000 shops twice and 10,000 shops once (TCP + SCRAM,
	# as the tests and Supabase), then 1,000 shops over the unix socket.
	node "$src/bench/jobs.mjs"
	echo
	BENCH_DB=socket BENCH_SHOPS=1000 node "$src/bench/jobs.mjs"
	echo
	# The same 1,000 shops with a new database session per shop (the
	# runtime before sessions were handed from worker to worker).
	REBOSS_JOB_SESSIONS=0 BENCH_TAG=new-session-per-shop BENCH_SHOPS=1000 \
		BENCH_REPEAT=1 node "$src/bench/jobs.mjs"
fi
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - start)) s;" \
	"JSON in $BENCH_OUT_DIR"
