#!/usr/bin/env bash
# Record a syscall capture of real work on this machine (root, BTF):
# `peregrine agent --record` with Falco's stable and incubating rules
# loaded (so every syscall they need is captured) while a Go build from
# scratch, a git clone, a tarball's packing and unpacking, and a package
# install from Debian's archive run. The capture is written gzip'd to OUT.
#
#   runtime/testdata/record.sh OUT.jsonl.gz     (PEREGRINE_CONFORMANCE: the corpus)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: record.sh OUT.jsonl.gz}
rules=${PEREGRINE_CONFORMANCE:-$root/../shared/conformance}/rules
work=$(mktemp -d)
agent=
trap '[[ -n $agent ]] && kill "$agent" 2>/dev/null; rm -rf "$work"' EXIT

go build -o "$work/peregrine" "$root/cmd/peregrine"
"$work/peregrine" agent -r "$rules/falco_rules.yaml" -r "$rules/falco-incubating_rules.yaml" \
	--record "$work/capture.jsonl" -o stdout_output.enabled=false -o file_output.enabled=true \
	-o file_output.filename="$work/alerts.json" -o webserver.listen_port=0 2>"$work/agent.log" &
agent=$!
for _ in $(seq 100); do grep -q '"agent started"' "$work/agent.log" && break; sleep 0.1; done

GOCACHE=$work/gocache go build -a -o "$work/openloop" "$root/agent/testdata/openloop"
git clone -q "$root" "$work/clone"
tar -C "$work" -czf "$work/clone.tgz" clone
mkdir "$work/unpacked" && tar -C "$work/unpacked" -xzf "$work/clone.tgz"
(cd "$work" && apt-get download -q libev4 >/dev/null 2>&1 && dpkg -i libev4_*.deb >/dev/null && dpkg -r libev4 >/dev/null) || echo "no package install (offline?)" >&2

kill -INT "$agent"
wait "$agent" || true
agent=
gzip -9 -c "$work/capture.jsonl" >"$out"
echo "$(wc -l <"$work/alerts.json") alerts;" \
	"recorded $(zcat "$out" | wc -l) events ($(zcat "$out" | wc -c) bytes) into $out" >&2
