#!/usr/bin/env bash
# Build (or reuse) kube-apiserver and etcd for the integration tests, from
# the Go module proxy only. Prints the directory holding both binaries.
#
#   PEREGRINE_KUBE_CACHE  cache directory (default ~/.cache/peregrine-kube)
#   KUBE_VERSION          k8s.io/kubernetes version (default v1.37.2)
#   ETCD_VERSION          go.etcd.io/etcd/server/v3 version (default v3.7.3)
#
# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
# with ./staging/..., which module zips do not carry; so a throwaway module
# requires k8s.io/kubernetes and maps every staging module to its published
# v0.X.Y tag. A cold build takes about 7 minutes on 2 cores.
set -euo pipefail

cache=${PEREGRINE_KUBE_CACHE:-$HOME/.cache/peregrine-kube}
kube=${KUBE_VERSION:-v1.37.2}
etcd=${ETCD_VERSION:-v3.7.3}
bin=$cache/bin-$kube-etcd-$etcd
log() { printf '[kube-build] %s\n' "$*" >&2; }

mkdir -p "$bin"
if [[ ! -x $bin/kube-apiserver ]]; then
	src=$cache/src-kube-$kube
	mkdir -p "$src"
	gomod=$(cd "$src" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$kube" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
	staging="v0.${kube#v1.}"
	{
		printf 'module kubebuild\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$kube"
		sed -n '/^replace (/,/^)/p' "$gomod" | awk -v v="$staging" '/=> \.\/staging\//{printf "\t%s => %s %s\n", $1, $1, v}'
		printf ')\n'
	} >"$src/go.mod"
	printf '//go:build tools\n\npackage kubebuild\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >"$src/tools.go"
	minor=${kube#v1.}; minor=${minor%%.*}
	log "building kube-apiserver $kube (cold: ~7 min)"
	(cd "$src" && go mod tidy && CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$kube -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
		-o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver) >&2
	mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
fi
if [[ ! -x $bin/etcd ]]; then
	src=$cache/src-etcd-$etcd
	mkdir -p "$src"
	printf 'module etcdbuild\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$etcd" >"$src/go.mod"
	printf '//go:build tools\n\npackage etcdbuild\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$src/tools.go"
	log "building etcd $etcd (cold: ~1.5 min)"
	(cd "$src" && go mod tidy && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3) >&2
	mv "$bin/etcd.tmp" "$bin/etcd"
fi
echo "$bin"
