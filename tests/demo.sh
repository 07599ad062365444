#!/usr/bin/env bash
# tests/demo.sh - the README's first command: the whole ReBoss stack, locally.
#
# On a fresh Debian 12 machine (as root, or a user with sudo) it
#   1. installs the Debian packages that are missing (apt-get),
#   2. npm ci in tests/ (the sandbox upstreams are node programs),
#   3. builds in build/ (or $REBOSS_BUILDDIR),
#   4. runs tests/demo.mjs: a throwaway PostgreSQL, the migrations, the
#      sandbox Shopify seeded with the demo shops (and the other sandbox
#      upstreams the tests use), reboss-api under spawn-fcgi and nginx with
#      TLS, all on loopback; connects the demo shops for a demo user, sets
#      their owner's dashboard settings and links Pinterest; runs every job
#      once and prints what each changed (a product retired and replaced,
#      one created, one rewritten, pins); prints "rebossctl status" and
#      names the file holding a curl command with a demo bearer token, and
#      keeps the API up.  Ctrl-C stops everything and removes the throwaway
#      data (REBOSS_KEEP_TMP=1 keeps it).
#
#   tests/demo.sh --once   does all of it, stops, and exits 0 when every step
#                          worked, else 1 (CI runs this).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "demo.sh: run as root or install sudo" >&2; exit 2; }
	SUDO=sudo
fi
say() { printf '\n=== %s\n' "$*"; }

# --- 1. packages -------------------------------------------------------------
# The same list and install step as tests/run-all.sh's build part.
# shellcheck source=tests/lib/packages.sh
. "$REPO/tests/lib/packages.sh"
# shellcheck disable=SC2086
ensure_packages $RB_BUILD_PACKAGES

# --- 2. node dependencies ------------------------------------------------------
if [ ! -d tests/node_modules/graphql ] || [ tests/package-lock.json -nt tests/node_modules ]; then
	say "npm ci (tests/)"
	(cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- 3. build ----------------------------------------------------------------
BUILD=${REBOSS_BUILDDIR:-$REPO/build}
# A tree configured in place (dpkg-buildpackage in the checkout does that)
# refuses a second, out-of-tree configure ("source directory already
# configured"): build in place then.
if [ -z "${REBOSS_BUILDDIR:-}" ] && [ -f "$REPO/config.status" ]; then
	say "the tree is configured in place (dpkg-buildpackage?): building there"
	BUILD=$REPO
fi
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
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
make -C "$BUILD" -j"$(nproc)" >"$BUILD/demo-make.log" 2>&1 || {
	tail -n 40 "$BUILD/demo-make.log"
	echo "demo.sh: the build failed (full log: $BUILD/demo-make.log)" >&2
	exit 1
}

# --- 4. the stack --------------------------------------------------------------
# The arguments (--once) go to demo.mjs, whose exit status is demo.sh's.
export REBOSS_BUILDDIR="$BUILD"
exec node "$REPO/tests/demo.mjs" "$@"
