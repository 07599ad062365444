# shellcheck shell=bash
# tests/lib/packages.sh - sourced by tests/run-all.sh and tests/demo.sh (bash).
# shellcheck disable=SC2034  # the variables are read by the callers
#
#   ensure_packages PKG...
#
# Installs with apt-get the Debian packages of the list that are not
# installed (dpkg-query), plus nodejs/npm when the node/npm commands are
# missing (node may come from another package that bundles npm).  Uses
# $SUDO when set (the callers set it to "sudo" when not root).  The
# packages start their system services; the tests and the demo run their
# own private instances and want nothing else listening, so a service that
# this call installed (postgresql, nginx-light, prometheus) is stopped.
# Sets ENSURE_PACKAGES_INSTALLED to what it installed ("" when all were
# present).  Fails (set -e) when apt-get fails.
ensure_packages() {
	local p st missing=
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || missing="$missing $p"
	done
	command -v node >/dev/null || missing="$missing nodejs"
	command -v npm >/dev/null || missing="$missing npm"
	ENSURE_PACKAGES_INSTALLED=$missing
	[ -n "$missing" ] || return 0
	printf '\n=== %s\n' "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	${SUDO:-} apt-get update -q
	# shellcheck disable=SC2086
	${SUDO:-} apt-get install -y -q --no-install-recommends $missing
	case " $missing " in *" postgresql "*)
		${SUDO:-} service postgresql stop >/dev/null 2>&1 || true ;;
	esac
	case " $missing " in *" nginx-light "*)
		${SUDO:-} service nginx stop >/dev/null 2>&1 || true ;;
	esac
	# prometheus is in run-all.sh's list for promtool only.
	case " $missing " in *" prometheus "*)
		${SUDO:-} service prometheus stop >/dev/null 2>&1 || true
		${SUDO:-} service prometheus-node-exporter stop >/dev/null 2>&1 || true ;;
	esac
	return 0
}

# What the build and the stack need (tests/demo.sh installs these):
# compiler, autotools, the C libraries, PostgreSQL, nginx, spawn-fcgi, curl.
RB_BUILD_PACKAGES="build-essential autoconf automake libtool pkgconf libfcgi-dev
libcurl4-openssl-dev libjansson-dev libpq-dev libssl-dev libsystemd-dev
postgresql nginx-light spawn-fcgi curl openssl ca-certificates"
