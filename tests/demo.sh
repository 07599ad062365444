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
#      TLS, all on loopback; connects the demo shops for a demo user; runs
#      every job once; prints "rebossctl status" and a curl command with a
#      demo bearer token, and keeps the API up.  Ctrl-C stops everything and
#      removes the throwaway data (REBOSS_KEEP_TMP=1 keeps it).
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
PKGS="build-essential autoconf automake libtool pkgconf libfcgi-dev
libcurl4-openssl-dev libjansson-dev libpq-dev libssl-dev libsystemd-dev
postgresql nginx-light spawn-fcgi curl openssl ca-certificates"
missing=
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing="$missing $p"
done
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
	# The demo runs its own private PostgreSQL and nginx on random ports;
	# the system instances the packages just started are not needed.
	case " $missing " in *" postgresql "*)
		$SUDO service postgresql stop >/dev/null 2>&1 || true ;;
	esac
	case " $missing " in *" nginx-light "*)
		$SUDO service nginx stop >/dev/null 2>&1 || true ;;
	esac
fi

# --- 2. node dependencies ------------------------------------------------------
if [ ! -d tests/node_modules/graphql ] || [ tests/package-lock.json -nt tests/node_modules ]; then
	say "npm ci (tests/)"
	(cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- 3. build ----------------------------------------------------------------
BUILD=${REBOSS_BUILDDIR:-$REPO/build}
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
export REBOSS_BUILDDIR="$BUILD"
exec node "$REPO/tests/demo.mjs"
