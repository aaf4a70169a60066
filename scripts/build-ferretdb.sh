#!/usr/bin/env bash
# Build FerretDB (MongoDB wire protocol over SQLite) with Go and install it as
# $(go env GOPATH)/bin/ferretdb, where server/src/local-services.ts looks for it.
#
# Why not `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: the
# module proxy here refuses the version list that form asks for. And a binary
# built straight from the module (go get -tool + go install) panics at start
# ("Invalid build/version/version.txt"): the module zip lacks that generated
# file. So: fetch the module in a scratch module, copy its source, write
# version.txt, and build from the copy through a replace directive.
#
# The scratch module stays in $FERRETDB_BUILD_DIR (default
# ~/.cache/wxpay-mp/ferretdb-build) and Go's own caches (GOMODCACHE, GOCACHE)
# are reused, so a rebuild on the same machine takes seconds.
set -euo pipefail

version="${FERRETDB_VERSION:-v1.24.2}"
build_dir="${FERRETDB_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wxpay-mp/ferretdb-build}"

command -v go >/dev/null 2>&1 || { echo "build-ferretdb: Go is required (https://go.dev/dl/)" >&2; exit 1; }

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
mkdir -p "$gobin" "$build_dir"
cd "$build_dir"

if [ ! -f go.mod ] || ! grep -q "FerretDB/FerretDB ${version}" go.mod; then
  rm -rf go.mod go.sum src
  go mod init ferretbuild >/dev/null 2>&1
  go get -tool "github.com/FerretDB/FerretDB/cmd/ferretdb@${version}" 2>go-get.log || { cat go-get.log >&2; exit 1; }
fi

if [ ! -f src/build/version/version.txt ]; then
  src="$(go list -m -f '{{.Dir}}' "github.com/FerretDB/FerretDB@${version}" 2>/dev/null || true)"
  [ -n "$src" ] && [ -d "$src" ] || src="$(go env GOMODCACHE)/$(go list -m -f '{{.Path}}@{{.Version}}' github.com/FerretDB/FerretDB | sed 's/[A-Z]/!\L&/g')"
  rm -rf src.tmp
  cp -r "$src" src.tmp
  chmod -R u+w src.tmp
  echo "$version" > src.tmp/build/version/version.txt
  mv src.tmp src
fi
go mod edit -replace github.com/FerretDB/FerretDB=./src

go build -buildvcs=false -o ferretdb.tmp github.com/FerretDB/FerretDB/cmd/ferretdb
./ferretdb.tmp --version | head -1
mv ferretdb.tmp "$gobin/ferretdb"
echo "build-ferretdb: installed $gobin/ferretdb"
