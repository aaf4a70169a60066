#!/usr/bin/env bash
# Installs what `npm start` and `npm test` need to start their own local services, when the
# machine lacks it: Debian's redis-server (apt-get, as root or with passwordless sudo) and a
# MongoDB-compatible server (a mongod on PATH, else our FerretDB build ferretdb-wxpay-mp.N,
# made with Go by scripts/build-ferretdb.sh: 2 to 4 minutes the first time, seconds after).
# Quick when everything is there; skipped for a service whose URL is given
# (MONGODB_URI / REDIS_URL).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

say() { printf 'ensure-services: %s\n' "$*"; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"; else return 1; fi
}

if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/sbin/redis-server ]; then
  say "installing redis-server (Debian package)"
  if ! { as_root apt-get update -qq </dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server </dev/null; }; then
    say "could not install redis-server: run 'apt-get install redis-server' as root, or set REDIS_URL" >&2
    exit 1
  fi
  # Debian's package may start a system instance; we start our own on a free port.
  as_root service redis-server stop >/dev/null 2>&1 || true
fi

if [ -z "${MONGODB_URI:-}" ] && ! command -v mongod >/dev/null 2>&1; then
  marker="$(sed -n 's/^marker="\([^"]*\)".*/\1/p' "$here/build-ferretdb.sh")"
  dirs="$HOME/go/bin"
  if command -v go >/dev/null 2>&1; then
    gobin="$(go env GOBIN)"
    dirs="${gobin:-$(go env GOPATH | cut -d: -f1)/bin}:$dirs"
  fi
  # Our build has its own name (ferretdb-wxpay-mp.N), so an older `ferretdb` can stay installed beside it.
  ferret="$(PATH="$PATH:$dirs" command -v "ferretdb-$marker" || true)"
  if [ -z "$ferret" ] || [[ "$("$ferret" --version 2>/dev/null || true)" != *"package: $marker"* ]]; then
    if ! command -v go >/dev/null 2>&1; then
      if PATH="$PATH:$dirs" command -v ferretdb >/dev/null 2>&1; then
        # local-services.ts will use it, and say what it lacks when it starts
        say "no Go to build ferretdb-$marker: using the ferretdb found, an older build (install Go ≥ 1.24 for the indexed one)" >&2
        exit 0
      fi
      say "no mongod, no ferretdb-$marker and no Go to build it: install Go ≥ 1.24, or set MONGODB_URI" >&2
      exit 1
    fi
    say "building FerretDB ($marker) with Go: a few minutes the first time"
    bash "$here/build-ferretdb.sh"
  fi
fi
