#!/usr/bin/env bash
# Build FerretDB (MongoDB wire protocol over SQLite) with Go and install it as
# $(go env GOPATH)/bin/ferretdb-<marker> (e.g. ~/go/bin/ferretdb-wxpay-mp.2), where
# server/src/local-services.ts and scripts/ensure-services.sh look for it. Each
# build of the patch has its own name, so an older build (a plain `ferretdb`,
# or ferretdb-wxpay-mp.1) is never overwritten and keeps working beside it.
#
# Why not `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: the
# module proxy here refuses the version list that form asks for. And a binary
# built straight from the module (go get -tool + go install) panics at start
# ("Invalid build/version/version.txt"): the module zip lacks that generated
# file. So: fetch the module in a scratch module, copy its source, write the
# version files, apply scripts/ferretdb/wxpay-mp.patch, and build from the
# copy through a replace directive.
#
# What the patch changes (each hunk is commented in the patch itself):
#   - atomic single-document writes: FerretDB 1.x does read-modify-write in
#     separate transactions, so two concurrent conditional updates could both
#     win and $inc could lose increments; the patch runs write commands one at
#     a time (SQLite has one writer anyway);
#   - a unique-index violation by an update is E11000 (code 11000), as by an insert;
#   - index-backed filters: stock 1.24 on SQLite pushes down only a lone {_id}
#     filter, and even that in a form its _id index does not serve, so every
#     query was a full scan that decodes each document (~20x slower from 1k to
#     20k orders). The patch pushes one equality ({k: v}, {k: {$eq: v}},
#     {k: {$in: [...]}} on strings / ObjectIds, k = _id or the first key of an
#     index) down to SQLite written exactly as FerretDB's expression index on k
#     is, so SQLite answers it from that index; the rest of the filter is
#     applied in memory as before. Dotted keys ('fulfilment.state') too.
#   - buildInfo reports ferretdbPackage (the marker), so tests can tell the build.
# The build is marked "package: <marker>" in --version.
#
# The scratch module stays in $FERRETDB_BUILD_DIR (default
# ~/.cache/wxpay-mp/ferretdb-build-<marker>) and Go's own caches (GOMODCACHE,
# GOCACHE) are reused, so a rebuild on the same machine takes 10 to 30 s. The
# first build downloads the FerretDB module and its dependencies through the Go
# module proxy (~650 MB module cache, ~350 MB build cache) and compiles them:
# 4 min 42 s from empty caches on a 2-core VM shared with other work.
set -euo pipefail

version="v1.24.2"
marker="wxpay-mp.2"   # bump when scripts/ferretdb/wxpay-mp.patch changes (also FERRETDB_PATCH_MARKER in server/src/local-services.ts)
here="$(cd "$(dirname "$0")" && pwd)"
patch_file="$here/ferretdb/wxpay-mp.patch"
build_dir="${FERRETDB_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wxpay-mp/ferretdb-build-${marker}}"

command -v go >/dev/null 2>&1 || { echo "build-ferretdb: Go is required (https://go.dev/dl/)" >&2; exit 1; }
command -v git >/dev/null 2>&1 || { echo "build-ferretdb: git is required (to apply the patch)" >&2; exit 1; }

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
target="$gobin/ferretdb-${marker}"
mkdir -p "$gobin" "$build_dir"
cd "$build_dir"

if [ ! -f go.mod ] || ! grep -q "FerretDB/FerretDB ${version}" go.mod; then
  rm -rf go.mod go.sum src
  go mod init ferretbuild >/dev/null 2>&1
  go get -tool "github.com/FerretDB/FerretDB/cmd/ferretdb@${version}" 2>go-get.log || { cat go-get.log >&2; exit 1; }
fi

if [ ! -f src/.wxpay-mp-marker ] || [ "$(cat src/.wxpay-mp-marker)" != "$marker" ] || [ "$patch_file" -nt src/.wxpay-mp-marker ]; then
  go mod edit -dropreplace github.com/FerretDB/FerretDB
  src="$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)"
  [ -n "$src" ] && [ -d "$src" ] || { echo "build-ferretdb: FerretDB module source not found" >&2; exit 1; }
  rm -rf src src.tmp
  cp -r "$src" src.tmp
  chmod -R u+w src.tmp
  echo "$version" > src.tmp/build/version/version.txt
  echo "$marker" > src.tmp/build/version/package.txt
  git apply --directory=src.tmp -p1 "$patch_file"
  echo "$marker" > src.tmp/.wxpay-mp-marker
  mv src.tmp src
fi
go mod edit -replace github.com/FerretDB/FerretDB=./src

go build -buildvcs=false -o ferretdb.tmp github.com/FerretDB/FerretDB/cmd/ferretdb
[[ "$(./ferretdb.tmp --version)" == *"package: $marker"* ]] || { echo "build-ferretdb: built binary lacks the $marker marker" >&2; exit 1; }
mv ferretdb.tmp "$target.tmp"
mv "$target.tmp" "$target"
echo "build-ferretdb: installed $target ($version, $marker)"
