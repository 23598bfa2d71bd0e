#!/usr/bin/env bash
# Peregrine's copy of ../shared/recipes/realnode/realnode.sh (adapted: the
# apiserver-restart command below); the tests of the installed product run
# on it.
#
# realnode.sh - a REAL single-node Kubernetes on this machine, without internet:
# etcd + kube-apiserver + kube-controller-manager + kube-scheduler + containerd + runc + kubelet
# + kube-proxy (iptables) + CoreDNS, so that `kubectl apply` of ordinary manifests works
# (Deployments, DaemonSets, ClusterIP Services, cluster DNS, webhooks behind Services) and
# `kubectl exec` as a real (token) user runs a real shell in a real container started by kubelet.
#
# Usage: realnode.sh build|up|down|demo|smoke|status|env|apiserver-restart
#   build  idempotent: build/cache binaries (Go module proxy) + images (local OCI tarballs),
#          apt-get install containerd/runc/iptables/conntrack/... if missing
#   up     start everything; wait for Node Ready, kube-proxy rules, controllers; create users/RBAC
#   down   stop everything `up` started (by PID), remove containers, unmount what was mounted,
#          remove the KUBE-* iptables chains/rules added since `up`, restore sysctls
#   demo   busybox pod + `kubectl exec` as alice; prints host PIDs, /proc/PID/cgroup, process tree
#   smoke  namespace smoke: Deployment + Service + DaemonSet (no nodeName), host->ClusterIP,
#          pod->SVC.smoke.svc (DNS), SA token + TokenReview, validating webhook via a Service;
#          prints PASS/FAIL per check, deletes the namespace; exit 1 on any FAIL
#   status show PIDs and node state
#   env    print shell exports (KUBECONFIG etc.)
#
# Environment:
#   REALNODE_CACHE            cache dir                       (default $HOME/.cache/realnode)
#   REALNODE_DIR              state dir                       (default $TMPDIR/realnode, else /tmp/realnode)
#   REALNODE_KUBE_VERSION     k8s.io/kubernetes tag           (default v1.37.2)
#   REALNODE_ETCD_VERSION     go.etcd.io/etcd/server/v3 tag   (default v3.7.3)
#   REALNODE_APISERVER_ARGS   extra kube-apiserver flags, word-split, e.g.
#                             "--audit-policy-file=/x/policy.yaml --audit-webhook-config-file=/x/wh.kubeconfig"
#   REALNODE_APISERVER_PORT   default 6443
#   REALNODE_ETCD_PORT        default 12379 (peer: +1)
#   REALNODE_KUBELET_PORT     default 10250
#   REALNODE_NODE_NAME        default realnode
#   REALNODE_READY_TIMEOUT    seconds to wait for Node Ready (default 120)
#   REALNODE_NODE_IP          node InternalIP (default: source IP of the default route; kubelet
#                             refuses a loopback node IP; kubelet listens on NODE_IP:10250)
#   REALNODE_POD_CIDR         bridge CNI subnet = kube-proxy --cluster-cidr (default 10.222.0.0/24,
#                             bridge "realnode0", gateway .1)
#   REALNODE_SERVICE_CIDR     default 10.0.0.0/24 (x.y.z.0/N, N<=24): .1 kubernetes, .10 kube-dns
#   REALNODE_APISERVER_BIND   default 0.0.0.0 (advertised: NODE_IP, so pods reach kubernetes.default.svc)
#   REALNODE_COREDNS_VERSION  github.com/coredns/coredns tag (default v1.15.0)
#   REALNODE_SHARED_MOUNTS    paths made shared mounts for mountPropagation (default /sys/fs/bpf:
#                             bpffs is mounted there; other paths are bind-mounted onto themselves)
#   REALNODE_KCM_PORT/_SCHEDULER_PORT/_PROXY_HEALTHZ_PORT/_PROXY_METRICS_PORT/_COREDNS_READY_PORT
#                             10257/10259/10256/10249/10181 (all on 127.0.0.1); CoreDNS: NODE_IP:53
#   REALNODE_SMOKE_WEBHOOK_PORT  smoke's host webhook server port on NODE_IP (default 18443)
#   REALNODE_DEMO_POD, REALNODE_DEMO_HOSTNETWORK=true   demo pod name / hostNetwork pod
#
# What runs (all started by `up`, PIDs in $REALNODE_DIR/*.pid, logs in $REALNODE_DIR/logs/):
#   etcd v3.7.3 + kube-apiserver v1.37.2 (built from the Go module proxy into $REALNODE_CACHE/bin)
#   kube-controller-manager (--controllers=*, no leader election, SA tokens, root CA publisher,
#   CSR signing with the realnode CA) + kube-scheduler v1.37.2, client certs system:kube-*
#   kube-proxy v1.37.2, iptables mode, --cluster-cidr=$REALNODE_POD_CIDR (masquerades non-pod
#   sources, so the host and the apiserver reach ClusterIPs); started after the Node is Ready
#   CoreDNS v1.15.0 (selected plugins) on the host at NODE_IP:53, kubernetes plugin via kubeconfig;
#   Service kube-system/kube-dns 10.0.0.10 with a hand-made EndpointSlice -> NODE_IP:53;
#   kubelet clusterDNS 10.0.0.10, clusterDomain cluster.local
#   containerd 1.6.20 + runc 1.1.5 + CNI plugins 1.1.1 (Debian bookworm packages), own socket
#   $REALNODE_DIR/containerd/containerd.sock, root/state under $REALNODE_DIR/containerd
#   kubelet v1.37.2 (cgroupfs driver, failCgroupV1: false, root dir $REALNODE_DIR/kubelet)
#   Images: docker.io/library/busybox:realnode (static busybox) and registry.k8s.io/pause:realnode
#   (same layer, entrypoint sleep) - imported with ctr; use imagePullPolicy: Never/IfNotPresent.
#
# Files after `up`: kubeconfig-admin (token user admin, system:masters), kubeconfig-alice
#   (group sre), kubeconfig-mallory (group devs), kubeconfig-adminx509, pki/{ca,webhook}.{crt,key},
#   pki/<user>.token, kubeconfig-{kube-controller-manager,kube-scheduler,kube-proxy,coredns},
#   Corefile, env.sh. ClusterRole realnode-pod-exec (pods get/list/watch, pods/exec
#   create+get, pods/log get) is bound to groups sre and devs.
# Audit: REALNODE_APISERVER_ARGS="--audit-policy-file=P --audit-webhook-config-file=K ..."
#
# Host side effects, undone by `down`: kubelet sets vm.overcommit_memory=1, kernel.panic=10,
#   kernel.panic_on_oops=1 (restored), creates /var/log/containers (removed if it did not exist),
#   cgroups /sys/fs/cgroup/*/kubepods (removed), bridge realnode0 + /run/netns/cni-* (removed),
#   iptables/ip6tables KUBE-* chains of kubelet and kube-proxy (diffed against a snapshot taken by
#   `up`, removed), bpffs on /sys/fs/bpf (unmounted), net.* sysctls (restored).
# Environment quirk handled: root here lacks CAP_SYS_RESOURCE, so containerd runs with
#   restrict_oom_score_adj = true (otherwise runc fails: "can't get final child's PID from pipe").
set -euo pipefail

RN_CACHE=${REALNODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/realnode}
RN_DIR=${REALNODE_DIR:-${TMPDIR:-/tmp}/realnode}
KUBE_VERSION=${REALNODE_KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${REALNODE_ETCD_VERSION:-v3.7.3}
COREDNS_VERSION=${REALNODE_COREDNS_VERSION:-v1.15.0}
APISERVER_PORT=${REALNODE_APISERVER_PORT:-6443}
ETCD_PORT=${REALNODE_ETCD_PORT:-12379}
KUBELET_PORT=${REALNODE_KUBELET_PORT:-10250}
NODE_NAME=${REALNODE_NODE_NAME:-realnode}
READY_TIMEOUT=${REALNODE_READY_TIMEOUT:-120}
POD_CIDR=${REALNODE_POD_CIDR:-10.222.0.0/24}
SERVICE_CIDR=${REALNODE_SERVICE_CIDR:-10.0.0.0/24} # x.y.z.0/N, N <= 24: .1 = kubernetes, .10 = kube-dns
SVC_PREFIX=${SERVICE_CIDR%.*}
DNS_IP=${REALNODE_DNS_IP:-$SVC_PREFIX.10}
CLUSTER_DOMAIN=cluster.local
KCM_PORT=${REALNODE_KCM_PORT:-10257}
SCHEDULER_PORT=${REALNODE_SCHEDULER_PORT:-10259}
PROXY_HEALTHZ_PORT=${REALNODE_PROXY_HEALTHZ_PORT:-10256}
PROXY_METRICS_PORT=${REALNODE_PROXY_METRICS_PORT:-10249}
COREDNS_READY_PORT=${REALNODE_COREDNS_READY_PORT:-10181}
DAEMONS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd coredns kubelet kube-proxy)
BIN=$RN_CACHE/bin
IMAGES=$RN_CACHE/images-peregrine # Peregrine: busybox with /etc/shadow (mkimage.py)
BUSYBOX_IMAGE=${REALNODE_BUSYBOX_IMAGE:-docker.io/library/busybox:realnode}
PAUSE_IMAGE=${REALNODE_PAUSE_IMAGE:-registry.k8s.io/pause:realnode}
export PATH=$BIN:$PATH

log() { printf '[realnode] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
NICE=(nice -n 19)

# ================================================================ build ====
KUBE_CMDS=(kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy)
build_kube() { # kube-apiserver, kubelet, kube-controller-manager, kube-scheduler, kube-proxy
	local want=("${KUBE_CMDS[@]}") missing=() c
	for c in "${want[@]}"; do [[ -x $BIN/$c-$KUBE_VERSION ]] || missing+=("$c"); done
	if ((${#missing[@]} == 0)); then log "reusing kube binaries $KUBE_VERSION"; return 0; fi
	local src=$RN_CACHE/src/kube-$KUBE_VERSION gomod t0
	local sver="v0.${KUBE_VERSION#v1.}" minor=${KUBE_VERSION#v1.}
	minor=${minor%%.*}
	mkdir -p "$src" "$BIN"
	t0=$(now)
	log "downloading k8s.io/kubernetes@$KUBE_VERSION (module proxy)"
	gomod=$(cd "$src" && GOFLAGS=-mod=mod "${NICE[@]}" go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
		sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
	[[ -f $gomod ]] || die "could not download k8s.io/kubernetes@$KUBE_VERSION"
	# k8s.io/kubernetes requires its staging modules at v0.0.0 => ./staging/... (not in the
	# module zip): map each of them to its published v0.X.Y tag in a throwaway module.
	{
		printf 'module realnodekubebuild\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBE_VERSION"
		sed -n '/^replace (/,/^)/p' "$gomod" | awk -v v="$sver" '/=> \.\/staging\//{printf "\t%s => %s %s\n", $1, $1, v}'
		printf ')\n'
	} >"$src/go.mod"
	{
		printf '//go:build tools\n\npackage realnodekubebuild\n\nimport (\n'
		for c in "${want[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
		printf ')\n'
	} >"$src/tools.go"
	(cd "$src" && "${NICE[@]}" go mod tidy) || die "go mod tidy failed"
	local ld="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
	ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	ld+=" -X k8s.io/component-base/version.gitTreeState=clean"
	local pkgs=() out=$src/out
	for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
	mkdir -p "$out"
	log "building ${missing[*]} $KUBE_VERSION (cold: ~10+ min on 2 cores)"
	(cd "$src" && CGO_ENABLED=0 "${NICE[@]}" go build -trimpath -ldflags "$ld" -o "$out/" "${pkgs[@]}") ||
		die "building ${missing[*]} failed"
	for c in "${missing[@]}"; do mv "$out/$c" "$BIN/$c-$KUBE_VERSION"; done
	log "kube build done in $(elapsed "$t0")s"
}

build_etcd() {
	local bin=$BIN/etcd-$ETCD_VERSION
	[[ -x $bin ]] && { log "reusing etcd $ETCD_VERSION"; return 0; }
	local src=$RN_CACHE/src/etcd-$ETCD_VERSION t0
	t0=$(now)
	mkdir -p "$src" "$BIN"
	printf 'module realnodeetcdbuild\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$src/go.mod"
	printf '//go:build tools\n\npackage realnodeetcdbuild\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$src/tools.go"
	log "building etcd $ETCD_VERSION (cold ~1.5 min)"
	(cd "$src" && "${NICE[@]}" go mod tidy && CGO_ENABLED=0 "${NICE[@]}" go build -trimpath -ldflags "-s -w" \
		-o "$bin.tmp" go.etcd.io/etcd/server/v3) || die "building etcd failed"
	mv "$bin.tmp" "$bin"
	log "etcd build done in $(elapsed "$t0")s"
}


build_coredns() { # a CoreDNS with only the plugins a cluster DNS needs (no cloud SDKs)
	local bin=$BIN/coredns-$COREDNS_VERSION plugins="bind errors log health ready cache loadbalance kubernetes forward hosts reload whoami"
	[[ -x $bin && $(cat "$bin.plugins" 2>/dev/null) == "$plugins" ]] && { log "reusing coredns $COREDNS_VERSION"; return 0; }
	local src=$RN_CACHE/src/coredns-$COREDNS_VERSION t0 p
	t0=$(now)
	mkdir -p "$src" "$BIN"
	printf 'module realnodecorednsbuild\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns %s\n' "$COREDNS_VERSION" >"$src/go.mod"
	{
		printf 'package main\n\nimport (\n\t"github.com/coredns/coredns/coremain"\n'
		for p in $plugins; do
			printf '\t_ "github.com/coredns/coredns/plugin/%s"\n' "$p"
		done
		printf ')\n\nfunc main() { coremain.Run() }\n'
	} >"$src/main.go"
	log "building coredns $COREDNS_VERSION (selected plugins; cold ~3 min)"
	(cd "$src" && "${NICE[@]}" go mod tidy && CGO_ENABLED=0 "${NICE[@]}" go build -trimpath \
		-ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" -o "$bin.tmp" .) ||
		die "building coredns failed"
	mv "$bin.tmp" "$bin"
	echo "$plugins" >"$bin.plugins"
	log "coredns build done in $(elapsed "$t0")s"
}


build_images() { # busybox (sh, sleep, ...) and a "pause" image whose entrypoint blocks forever
	command -v busybox >/dev/null || die "busybox missing (apt-get install busybox-static)"
	local bb
	bb=$(command -v busybox)
	file -L "$bb" 2>/dev/null | grep -q 'statically linked' || [[ $bb == /bin/busybox || $bb == /usr/bin/busybox ]] ||
		log "warning: $bb may not be static"
	mkdir -p "$IMAGES"
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	if [[ ! -s $IMAGES/busybox.tar || $bb -nt $IMAGES/busybox.tar ]]; then
		python3 "$here/mkimage.py" "$IMAGES/busybox.tar" "$BUSYBOX_IMAGE" "$bb" '' '["sh"]' >&2
	fi
	if [[ ! -s $IMAGES/pause.tar || $bb -nt $IMAGES/pause.tar ]]; then
		python3 "$here/mkimage.py" "$IMAGES/pause.tar" "$PAUSE_IMAGE" "$bb" '["/bin/sleep"]' '["2147483647"]' >&2
	fi
}

APT_PKGS=(containerd runc busybox-static containernetworking-plugins iptables conntrack)
ensure_apt() {
	local missing=() p
	for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	((${#missing[@]} == 0)) && return 0
	log "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || {
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	} || die "apt-get install ${missing[*]} failed"
}

cmd_build() {
	local t0
	t0=$(now)
	ensure_apt
	build_etcd
	build_kube
	build_coredns
	build_images
	log "build done in $(elapsed "$t0")s; binaries in $BIN, images in $IMAGES"
}

# ============================================================== helpers ====
alive() { [[ -f $RN_DIR/$1.pid ]] && kill -0 "$(cat "$RN_DIR/$1.pid")" 2>/dev/null; }
P=$RN_DIR/pki
KCFG=$RN_DIR/kubeconfig-admin
kc() { kubectl --kubeconfig "$KCFG" "$@"; }
api() { # api METHOD PATH [JSON] - admin call via curl with the admin client cert
	curl -sS --max-time 10 --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" \
		-X "$1" -H 'Content-Type: application/json' "https://127.0.0.1:$APISERVER_PORT$2" ${3:+--data "$3"}
}
port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

node_ip() { # a non-loopback IPv4 of this host (kubelet refuses a loopback node IP)
	if [[ -n ${REALNODE_NODE_IP:-} ]]; then echo "$REALNODE_NODE_IP"; return; fi
	local ip
	ip=$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
	[[ -n $ip ]] || ip=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
	[[ -n $ip ]] || die "no non-loopback IPv4 address found; set REALNODE_NODE_IP"
	echo "$ip"
}

gen_pki() { # $1 = node IP; regenerated when the node IP changed
	local nip=$1
	if [[ -f $P/ca.crt && -f $P/kube-proxy.crt && $(cat "$P/node-ip" 2>/dev/null) == "$nip" &&
		$(cat "$P/service-cidr" 2>/dev/null) == "$SERVICE_CIDR" ]]; then return 0; fi
	rm -rf "$P"
	mkdir -p "$P"
	(
		cd "$P"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
			-subj "/CN=realnode-ca" -addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		sign() { # name subject ext
			openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
			printf '%b' "$3" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
				-out "$1.crt" -extfile "$1.ext" 2>/dev/null
			rm -f "$1.csr" "$1.ext"
		}
		local srv="keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
		local cli="keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
		sign apiserver "/CN=kube-apiserver" \
			"${srv}subjectAltName=IP:127.0.0.1,IP:$nip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:$SVC_PREFIX.1\n"
		sign kubelet "/CN=$NODE_NAME" "${srv}subjectAltName=IP:$nip,IP:127.0.0.1,DNS:$NODE_NAME,DNS:localhost\n"
		sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" "$cli"
		sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$cli"
		sign admin "/O=system:masters/CN=realnode-admin" "$cli"
		# identities the bootstrap RBAC roles know (system:kube-controller-manager,
		# system:kube-scheduler, system:node-proxier); coredns gets its own ClusterRole in `up`
		sign kube-controller-manager "/CN=system:kube-controller-manager" "$cli"
		sign kube-scheduler "/CN=system:kube-scheduler" "$cli"
		sign kube-proxy "/CN=system:kube-proxy" "$cli"
		sign coredns "/CN=system:coredns" "$cli"
		sign webhook "/CN=realnode-webhook" "${srv}subjectAltName=IP:127.0.0.1,IP:::1,IP:$nip,DNS:localhost\n"
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
		local u
		for u in admin alice mallory; do openssl rand -hex 24 >"$u.token"; done
		# token,user,uid,"groups"
		printf '%s,admin,uid-admin,"system:masters"\n%s,alice,uid-alice,"sre"\n%s,mallory,uid-mallory,"devs"\n' \
			"$(cat admin.token)" "$(cat alice.token)" "$(cat mallory.token)" >tokens.csv
		chmod 600 ./*.key ./*.token tokens.csv
		echo "$nip" >node-ip
		echo "$SERVICE_CIDR" >service-cidr
	)
}

write_kubeconfig() { # file user [token|cert]
	local f=$1 user=$2
	{
		cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: realnode
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $P/ca.crt
contexts:
- name: $user@realnode
  context: {cluster: realnode, user: $user}
current-context: $user@realnode
users:
- name: $user
  user:
EOF
		if [[ $3 == token ]]; then
			echo "    token: $(cat "$P/$user.token")"
		else
			printf '    client-certificate: %s\n    client-key: %s\n' "$P/$3.crt" "$P/$3.key"
		fi
	} >"$f"
	chmod 600 "$f"
}

start_daemon() { # name logfile cmd...   (own session; pid in $RN_DIR/name.pid)
	local name=$1 logf=$2
	shift 2
	printf '%q ' "$@" >"$RN_DIR/$name.cmdline"
	setsid "$@" </dev/null >>"$logf" 2>&1 &
	echo $! >"$RN_DIR/$name.pid"
	log "started $name (pid $!) - log $logf"
}

wait_for() { # seconds name-for-pidcheck description cmd...
	local secs=$1 pidname=$2 what=$3 i
	shift 3
	for ((i = 0; i < secs * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		[[ -z $pidname ]] || alive "$pidname" || die "$pidname exited while waiting for $what; see $RN_DIR/logs/$pidname.log: $(tail -5 "$RN_DIR/logs/$pidname.log")"
		sleep 0.2
	done
	die "timeout (${secs}s) waiting for $what"
}

SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes
	net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max
	net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait
	net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)

# mountPropagation Bidirectional/HostToContainer needs the hostPath on a shared (or slave) mount;
# every mount on this VM is private (no systemd), so e.g. an eBPF agent mounting /sys/fs/bpf with
# Bidirectional fails: 'path "/sys/fs/bpf" is mounted on "/sys" but it is not a shared mount'.
# `up` mounts bpffs on /sys/fs/bpf (bind-mounts other paths onto themselves) and makes them shared;
# `down` undoes it (recorded in $RN_DIR/mounts.made).
make_shared_mounts() {
	local m
	: >"$RN_DIR/mounts.made"
	for m in ${REALNODE_SHARED_MOUNTS-/sys/fs/bpf}; do
		[[ -d $m ]] || mkdir -p "$m" 2>/dev/null || { log "warning: $m: no such directory"; continue; }
		if ! mountpoint -q "$m"; then
			if [[ $m == /sys/fs/bpf ]]; then mount -t bpf bpf "$m"; else mount --bind "$m" "$m"; fi ||
				{ log "warning: could not mount $m"; continue; }
			echo "umount $m" >>"$RN_DIR/mounts.made"
		elif [[ $(findmnt -no PROPAGATION "$m" | head -1) == private ]]; then
			echo "private $m" >>"$RN_DIR/mounts.made"
		fi
		mount --make-shared "$m" || log "warning: could not make $m shared"
	done
}

undo_shared_mounts() {
	[[ -f $RN_DIR/mounts.made ]] || return 0
	local what m
	while read -r what m; do
		case $what in
		umount) umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m" ;;
		private) mount --make-private "$m" 2>/dev/null || true ;;
		esac
	done < <(tac "$RN_DIR/mounts.made")
	rm -f "$RN_DIR/mounts.made"
}

# ============================================================ configs ====
write_containerd_config() {
	local d=$RN_DIR/containerd
	mkdir -p "$d" "$RN_DIR/cni/net.d" "$RN_DIR/cni/ipam"
	cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$d/containerd.sock"

[ttrpc]
  address = "$d/containerd.sock.ttrpc"

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # this VM gives root no CAP_SYS_RESOURCE: lowering oom_score_adj (the sandbox's -998) fails
  # with EACCES inside runc ("can't get final child's PID from pipe: EOF"); clamp instead
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${REALNODE_RUNC:-/usr/bin/runc}"
        Root = "$d/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RN_DIR/cni/net.d"
    max_conf_num = 1
EOF
	cat >"$RN_DIR/cni/net.d/10-realnode.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "realnode",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "realnode0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$RN_DIR/cni/ipam"
      }
    }
  ]
}
EOF
}

write_kubelet_config() { # $1 node IP
	local k=$RN_DIR/kubelet
	mkdir -p "$k" "$RN_DIR/pod-logs" "$k/volume-plugins"
	cat >"$RN_DIR/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${REALNODE_KUBELET_HEALTHZ_PORT:-10248}
tlsCertFile: $P/kubelet.crt
tlsPrivateKeyFile: $P/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: true
containerRuntimeEndpoint: unix://$RN_DIR/containerd/containerd.sock
podLogsDir: $RN_DIR/pod-logs
volumePluginDir: $k/volume-plugins
failSwapOn: false
resolvConf: /etc/resolv.conf
clusterDNS: [$DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
registerNode: true
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "50Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
maxPods: 50
protectKernelDefaults: false
EOF
}

# ================================================================= up ====
cmd_up() {
	local t0 nip
	t0=$(now)
	local d
	for d in "${DAEMONS[@]}"; do alive "$d" && die "already running (see '$0 status'); run '$0 down' first"; done
	for b in "etcd-$ETCD_VERSION" "${KUBE_CMDS[@]/%/-$KUBE_VERSION}" "coredns-$COREDNS_VERSION.plugins"; do
		[[ -e $BIN/$b ]] || { log "$BIN/$b missing - running build"; cmd_build; break; }
	done
	[[ -s $IMAGES/busybox.tar && -s $IMAGES/pause.tar ]] || build_images
	ensure_apt
	for p in "$APISERVER_PORT" "$ETCD_PORT" "$((ETCD_PORT + 1))" "$KUBELET_PORT" "${REALNODE_KUBELET_HEALTHZ_PORT:-10248}" \
		"$KCM_PORT" "$SCHEDULER_PORT" "$PROXY_HEALTHZ_PORT" "$PROXY_METRICS_PORT" "$COREDNS_READY_PORT" 53; do
		port_free "$p" || die "port $p is in use"
	done
	! ss -Huln "sport = :53" | grep -q . || die "udp port 53 is in use (CoreDNS binds NODE_IP:53)"
	[[ -z $(leftover_mounts) ]] || die "mounts left below $RN_DIR (run '$0 down'): $(leftover_mounts | head -3)"
	nip=$(node_ip)
	rm -rf "$RN_DIR/logs.prev" "$RN_DIR/kube-apiserver.cmdline.up"
	[[ -d $RN_DIR/logs ]] && mv "$RN_DIR/logs" "$RN_DIR/logs.prev"
	mkdir -p "$RN_DIR/logs"
	# fresh state (pki is kept)
	rm -rf --one-file-system "$RN_DIR/etcd-data" "$RN_DIR/containerd" "$RN_DIR/kubelet" "$RN_DIR/pod-logs" "$RN_DIR/cni"
	gen_pki "$nip"
	ls /run/netns 2>/dev/null | sort >"$RN_DIR/netns.before" || true
	# kubelet always creates /var/log/containers (hard-coded symlink dir); remember if it existed
	[[ -d /var/log/containers ]] && touch "$RN_DIR/varlogcontainers.existed" || rm -f "$RN_DIR/varlogcontainers.existed"
	local s
	: >"$RN_DIR/sysctl.saved"
	for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s" 2>/dev/null)" >>"$RN_DIR/sysctl.saved"; done
	# iptables as they were: `down` removes the KUBE-* chains/rules added since (kubelet, kube-proxy)
	iptables-save >"$RN_DIR/iptables.before" 2>/dev/null || true
	ip6tables-save >"$RN_DIR/ip6tables.before" 2>/dev/null || true
	make_shared_mounts

	# ---- etcd
	start_daemon etcd "$RN_DIR/logs/etcd.log" "$BIN/etcd-$ETCD_VERSION" --name realnode \
		--data-dir "$RN_DIR/etcd-data" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
		--initial-cluster "realnode=http://127.0.0.1:$((ETCD_PORT + 1))" \
		--unsafe-no-fsync --log-level=warn
	wait_for 60 etcd "etcd health" sh -c "curl -fsS --max-time 1 http://127.0.0.1:$ETCD_PORT/health | grep -q '\"health\":\"true\"'"
	log "etcd healthy after $(elapsed "$t0")s"

	# ---- kube-apiserver
	local args=(
		--etcd-servers="http://127.0.0.1:$ETCD_PORT"
		# all addresses + advertised node IP: the "kubernetes" Service (first service IP) then has
		# the endpoint NODE_IP:6443, which pods reach through kube-proxy (in-cluster clients)
		--bind-address="${REALNODE_APISERVER_BIND:-0.0.0.0}" --secure-port="$APISERVER_PORT"
		--advertise-address="$nip" --endpoint-reconciler-type=lease
		--tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key"
		--client-ca-file="$P/ca.crt"
		--token-auth-file="$P/tokens.csv"
		--service-account-issuer=https://kubernetes.default.svc.cluster.local
		--service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key"
		--api-audiences=https://kubernetes.default.svc.cluster.local
		--service-cluster-ip-range="$SERVICE_CIDR"
		--authorization-mode=Node,RBAC
		--enable-admission-plugins=NodeRestriction
		--allow-privileged=true
		--kubelet-client-certificate="$P/apiserver-kubelet-client.crt"
		--kubelet-client-key="$P/apiserver-kubelet-client.key"
		--kubelet-certificate-authority="$P/ca.crt"
		--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname
	)
	# shellcheck disable=SC2206 # word splitting of the caller's flags is intended
	[[ -n ${REALNODE_APISERVER_ARGS:-} ]] && args+=($REALNODE_APISERVER_ARGS)
	local t1
	t1=$(now)
	start_daemon kube-apiserver "$RN_DIR/logs/kube-apiserver.log" "$BIN/kube-apiserver-$KUBE_VERSION" "${args[@]}"
	wait_for 120 kube-apiserver "apiserver /readyz" sh -c "[ \"\$(curl -sS --max-time 2 --cacert $P/ca.crt --cert $P/admin.crt --key $P/admin.key https://127.0.0.1:$APISERVER_PORT/readyz)\" = ok ]"
	log "kube-apiserver ready after $(elapsed "$t1")s"
	write_kubeconfig "$KCFG" admin token
	write_kubeconfig "$RN_DIR/kubeconfig-alice" alice token
	write_kubeconfig "$RN_DIR/kubeconfig-mallory" mallory token
	write_kubeconfig "$RN_DIR/kubeconfig-adminx509" admin admin
	write_kubeconfig "$RN_DIR/kubelet.kubeconfig" "system:node:$NODE_NAME" kubelet-client
	local c
	for c in kube-controller-manager kube-scheduler kube-proxy coredns; do
		write_kubeconfig "$RN_DIR/kubeconfig-$c" "system:$c" "$c"
	done

	# ---- kube-controller-manager (all default controllers: deployment, replicaset, daemonset,
	# statefulset, job, serviceaccount(-token), namespace, garbagecollector, endpoint(slice),
	# endpointslicemirroring, root-ca-cert-publisher, csrsigning, ...) and kube-scheduler
	start_daemon kube-controller-manager "$RN_DIR/logs/kube-controller-manager.log" \
		"$BIN/kube-controller-manager-$KUBE_VERSION" \
		--kubeconfig="$RN_DIR/kubeconfig-kube-controller-manager" \
		--authentication-kubeconfig="$RN_DIR/kubeconfig-kube-controller-manager" \
		--authorization-kubeconfig="$RN_DIR/kubeconfig-kube-controller-manager" \
		--bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
		--controllers='*' --use-service-account-credentials=true \
		--service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
		--cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
		--cluster-name=realnode --service-cluster-ip-range="$SERVICE_CIDR" --allocate-node-cidrs=false \
		--v="${REALNODE_KCM_V:-1}"
	start_daemon kube-scheduler "$RN_DIR/logs/kube-scheduler.log" "$BIN/kube-scheduler-$KUBE_VERSION" \
		--kubeconfig="$RN_DIR/kubeconfig-kube-scheduler" \
		--authentication-kubeconfig="$RN_DIR/kubeconfig-kube-scheduler" \
		--authorization-kubeconfig="$RN_DIR/kubeconfig-kube-scheduler" \
		--bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false --v=1

	# ---- containerd
	write_containerd_config
	start_daemon containerd "$RN_DIR/logs/containerd.log" /usr/bin/containerd --config "$RN_DIR/containerd/config.toml"
	wait_for 60 containerd "containerd socket" ctr --address "$RN_DIR/containerd/containerd.sock" version
	local img
	for img in pause busybox; do
		ctr --address "$RN_DIR/containerd/containerd.sock" -n k8s.io images import "$IMAGES/$img.tar" >/dev/null ||
			die "ctr images import $img failed"
	done
	log "containerd ready, images imported after $(elapsed "$t0")s"

	# ---- RBAC for the users; SA "default" + kube-root-ca.crt in "default" right away (the
	# controller-manager does the same for every namespace a moment later)
	setup_rbac

	# ---- cluster DNS: CoreDNS on the host (NODE_IP:53), published as Service kube-system/kube-dns
	# (ClusterIP $DNS_IP) with a hand-written EndpointSlice -> NODE_IP:53; kubelet clusterDNS
	setup_dns "$nip"
	start_daemon coredns "$RN_DIR/logs/coredns.log" "$BIN/coredns-$COREDNS_VERSION" -conf "$RN_DIR/Corefile"
	wait_for 60 coredns "coredns ready (kubernetes plugin synced)" curl -fsS --max-time 1 "http://127.0.0.1:$COREDNS_READY_PORT/ready"
	log "coredns ready on $nip:53 after $(elapsed "$t0")s"

	# ---- kubelet
	write_kubelet_config "$nip"
	start_daemon kubelet "$RN_DIR/logs/kubelet.log" "$BIN/kubelet-$KUBE_VERSION" \
		--config="$RN_DIR/kubelet-config.yaml" --kubeconfig="$RN_DIR/kubelet.kubeconfig" \
		--root-dir="$RN_DIR/kubelet" --hostname-override="$NODE_NAME" --node-ip="$nip" \
		--v="${REALNODE_KUBELET_V:-2}"
	wait_for "$READY_TIMEOUT" kubelet "Node $NODE_NAME Ready" sh -c \
		"kubectl --kubeconfig $KCFG get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
	grep -q 'strict decoding error' "$RN_DIR/logs/kubelet.log" &&
		log "WARNING: kubelet config: $(grep -o 'strict decoding error[^"]*"[^"]*' "$RN_DIR/logs/kubelet.log" | head -1)"
	log "Node $NODE_NAME Ready after $(elapsed "$t0")s"

	# ---- kube-proxy (iptables mode; after the Node exists: it reads the node IP from it).
	# Leaves the conntrack sysctls and route_localnet alone (maxPerCore 0, no localhost NodePorts).
	start_daemon kube-proxy "$RN_DIR/logs/kube-proxy.log" "$BIN/kube-proxy-$KUBE_VERSION" \
		--kubeconfig="$RN_DIR/kubeconfig-kube-proxy" --hostname-override="$NODE_NAME" \
		--proxy-mode=iptables --cluster-cidr="$POD_CIDR" \
		--healthz-bind-address="127.0.0.1:$PROXY_HEALTHZ_PORT" --metrics-bind-address="127.0.0.1:$PROXY_METRICS_PORT" \
		--conntrack-max-per-core=0 --conntrack-min=0 \
		--conntrack-tcp-timeout-established=0s --conntrack-tcp-timeout-close-wait=0s \
		--iptables-localhost-nodeports=false --nodeport-addresses=primary --v="${REALNODE_PROXY_V:-1}"
	wait_for 60 kube-proxy "kube-proxy rules for the kubernetes Service" sh -c \
		"iptables-save -t nat | grep -q 'default/kubernetes:https cluster IP'"
	wait_for 60 kube-controller-manager "kube-controller-manager healthz" curl -fsSk --max-time 1 "https://127.0.0.1:$KCM_PORT/healthz"
	wait_for 60 kube-scheduler "kube-scheduler healthz" curl -fsSk --max-time 1 "https://127.0.0.1:$SCHEDULER_PORT/healthz"
	wait_for 60 kube-controller-manager "ServiceAccount kube-system/default" kc -n kube-system get sa default
	write_env "$nip"
	log "cluster up (scheduler, controller-manager, kube-proxy, DNS $DNS_IP); up took $(elapsed "$t0")s"
	log "eval \"\$($0 env)\"  or  export KUBECONFIG=$KCFG"
}

setup_rbac() {
	kc apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: realnode-pod-exec}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods/exec]
  # kubectl >= 1.30 execs over websockets = HTTP GET (audit verb "get"); apiserver 1.37 needs BOTH
  # get and create for that. With create only, the websocket GET is denied (403 audit event) and
  # kubectl falls back to SPDY (POST, audit verb "create", 101).
  verbs: [create, get]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: realnode-pod-exec}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: realnode-pod-exec}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: sre}
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: default}
EOF
	# the root-ca-cert-publisher of kube-controller-manager would create this; projected
	# service-account volumes need it
	kc -n default create configmap kube-root-ca.crt --from-file=ca.crt="$P/ca.crt" >/dev/null 2>&1 || true
}

setup_dns() { # $1 node IP: Corefile, RBAC for CoreDNS, Service kube-dns + EndpointSlice -> NODE_IP:53
	local nip=$1
	cat >"$RN_DIR/Corefile" <<EOF
.:53 {
    bind $nip
    errors
    ready 127.0.0.1:$COREDNS_READY_PORT
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $RN_DIR/kubeconfig-coredns system:coredns@realnode
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    forward . /etc/resolv.conf
    cache 5
    loadbalance
}
EOF
	kc apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:coredns"}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: $DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
---
# no selector: CoreDNS runs on the host, this slice is the Service's only backend
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: realnode}
addressType: IPv4
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
endpoints:
- addresses: ["$nip"]
  conditions: {ready: true}
  nodeName: $NODE_NAME
EOF
}

write_env() {
	cat >"$RN_DIR/env.sh" <<EOF
export KUBECONFIG=$KCFG
export REALNODE_DIR=$RN_DIR
export REALNODE_SERVER=https://127.0.0.1:$APISERVER_PORT
export REALNODE_CA=$P/ca.crt
export REALNODE_CA_KEY=$P/ca.key
export REALNODE_NODE_NAME=$NODE_NAME
export REALNODE_NODE_IP=$1
export REALNODE_ADMIN_TOKEN=$(cat "$P/admin.token")
export REALNODE_ALICE_TOKEN=$(cat "$P/alice.token")
export REALNODE_MALLORY_TOKEN=$(cat "$P/mallory.token")
export REALNODE_WEBHOOK_CERT=$P/webhook.crt
export REALNODE_WEBHOOK_KEY=$P/webhook.key
export REALNODE_CONTAINERD_SOCK=$RN_DIR/containerd/containerd.sock
export REALNODE_BUSYBOX_IMAGE=$BUSYBOX_IMAGE
export REALNODE_POD_CIDR=$POD_CIDR
export REALNODE_SERVICE_CIDR=$SERVICE_CIDR
export REALNODE_DNS_IP=$DNS_IP
EOF
}

# =============================================================== down ====
leftover_mounts() { # mount points below $RN_DIR (deepest first)
	awk -v d="$RN_DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r
}

stop_pid() { # name [timeout-s]
	local f=$RN_DIR/$1.pid pid i
	[[ -f $f ]] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < ${2:-10} * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid" 2>/dev/null || true; log "killed $1 (pid $pid)"; } ||
			log "stopped $1 (pid $pid)"
	fi
	rm -f "$f"
}

iptables_undo() { # tool snapshot: remove KUBE-* chains created since the snapshot, and the rules
	# added since then that jump to them / mention KUBE- (kubelet: KUBE-FIREWALL, KUBE-KUBELET-CANARY,
	# KUBE-IPTABLES-HINT; kube-proxy: KUBE-SERVICES, KUBE-SVC-*, KUBE-SEP-*, KUBE-POSTROUTING, ...)
	local t=$1 snap=$2 table before now newc c script
	command -v "$t-save" >/dev/null || return 0
	[[ -f $snap ]] || return 0
	for table in filter nat mangle raw; do
		before=$(awk -v T="*$table" '$0 == T {f = 1; next} /^\*/ {f = 0} f' "$snap")
		now=$("$t-save" -t "$table" 2>/dev/null) || continue
		newc=$(comm -13 <(sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p' <<<"$before" | sort) \
			<(sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p' <<<"$now" | sort))
		script=$(
			echo "*$table"
			# new rules in chains that existed before (built-in or older KUBE-* chains)
			grep -- '^-A ' <<<"$now" | grep -- 'KUBE-' | grep -vxF -f <(grep -- '^-A ' <<<"$before"; echo '#') |
				while read -r line; do
					c=${line#-A }
					c=${c%% *}
					grep -qxF -- "$c" <<<"$newc" || echo "-D ${line#-A }"
				done
			for c in $newc; do echo "-F $c"; done
			for c in $newc; do echo "-X $c"; done
			echo COMMIT
		)
		[[ $(wc -l <<<"$script") -gt 2 ]] || continue
		"$t-restore" --noflush <<<"$script" 2>&1 | head -3 >&2 || true
		log "$t -t $table: removed $(wc -w <<<"$newc") KUBE-* chains"
	done
}

cmd_down() {
	local sock=$RN_DIR/containerd/containerd.sock c
	local ctr_=(ctr --address "$sock" -n k8s.io)
	# 0. controllers first, so that deleted pods are not recreated
	stop_pid smoke-webhook 5
	stop_pid kube-controller-manager 10
	stop_pid kube-scheduler 10
	# 1. let kubelet tear the pods down through CRI (stops containers, CNI DEL, unmounts volumes)
	if alive kube-apiserver && alive kubelet && [[ -f $KCFG ]]; then
		kc delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
		for _ in $(seq 1 60); do
			[[ -z $("${ctr_[@]}" tasks ls -q 2>/dev/null) ]] && break
			sleep 0.5
		done
	fi
	stop_pid kubelet 15
	# 2. whatever is left: kill tasks and delete containers directly in containerd
	if alive containerd; then
		for c in $("${ctr_[@]}" tasks ls -q 2>/dev/null); do "${ctr_[@]}" tasks kill -a -s SIGKILL "$c" >/dev/null 2>&1 || true; done
		sleep 1
		for c in $("${ctr_[@]}" tasks ls -q 2>/dev/null); do "${ctr_[@]}" tasks delete -f "$c" >/dev/null 2>&1 || true; done
		for c in $("${ctr_[@]}" containers ls -q 2>/dev/null); do "${ctr_[@]}" containers delete "$c" >/dev/null 2>&1 || true; done
	fi
	stop_pid containerd 15
	# 3. shims (they reparent to PID 1) - by the pid files containerd wrote for them
	local f pid
	for f in "$RN_DIR"/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
		[[ -f $f ]] || continue
		pid=$(cat "$f")
		if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$sock"; then
			kill -KILL "$pid" 2>/dev/null && log "killed shim pid $pid"
		fi
	done
	stop_pid kube-proxy 10
	stop_pid coredns 10
	stop_pid kube-apiserver 15
	stop_pid etcd 10
	# 4. mounts below the state dir (rootfs overlays, shm, pod volumes), network namespaces
	local m
	for m in $(leftover_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"; done
	if [[ -f $RN_DIR/netns.before ]]; then
		for m in $(ls /run/netns 2>/dev/null | sort | comm -13 "$RN_DIR/netns.before" - | grep '^cni-' || true); do
			umount "/run/netns/$m" 2>/dev/null || umount -l "/run/netns/$m" 2>/dev/null || true
			rm -f "/run/netns/$m" && log "removed netns $m"
		done
	fi
	ip link del realnode0 2>/dev/null && log "deleted bridge realnode0" || true
	# iptables: kube-proxy's and kubelet's chains (see iptables_undo)
	iptables_undo iptables "$RN_DIR/iptables.before"
	iptables_undo ip6tables "$RN_DIR/ip6tables.before"
	# 5. cgroups created by kubelet/runc (only empty ones can be removed)
	local h
	for h in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
		[[ -d $h ]] || continue
		find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		[[ -d $h ]] && log "cgroup $h not empty, left in place"
	done
	# 6. symlinks kubelet put in /var/log/containers pointing into our pod-logs dir
	for f in /var/log/containers/*.log; do
		[[ -L $f && $(readlink "$f") == "$RN_DIR/"* ]] && rm -f "$f"
	done
	[[ -f $RN_DIR/varlogcontainers.existed ]] || rmdir /var/log/containers 2>/dev/null || true
	# 7. sysctls kubelet changed
	if [[ -f $RN_DIR/sysctl.saved ]]; then
		while IFS='=' read -r k v; do [[ -n $v ]] && sysctl -qw "$k=$v" 2>/dev/null || true; done <"$RN_DIR/sysctl.saved"
		rm -f "$RN_DIR/sysctl.saved"
	fi
	[[ -z $(leftover_mounts) ]] || log "WARNING: mounts still present: $(leftover_mounts | tr '\n' ' ')"
	undo_shared_mounts
	log "down complete"
}

# ============================================================= status ====
cmd_status() {
	local n
	for n in "${DAEMONS[@]}"; do
		if alive "$n"; then echo "$n: running (pid $(cat "$RN_DIR/$n.pid"))"; else echo "$n: not running"; fi
	done
	alive kube-apiserver && kc get nodes -o wide 2>&1 || true
}

cmd_env() { [[ -f $RN_DIR/env.sh ]] || die "not up"; cat "$RN_DIR/env.sh"; }

# =============================================================== demo ====
proc_line() { # pid -> "pid ppid uid argv"
	local p=$1
	printf '  pid=%-7s ppid=%-7s uid=%-5s argv=%s\n' "$p" "$(awk '/^PPid:/{print $2}' "/proc/$p/status" 2>/dev/null)" \
		"$(awk '/^Uid:/{print $2}' "/proc/$p/status" 2>/dev/null)" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
}
proc_cgroups() { # pid -> indented /proc/pid/cgroup + cgroup v2 id (inode in the unified hierarchy)
	local p=$1 v2 root=/sys/fs/cgroup/unified
	[[ -d $root ]] || root=/sys/fs/cgroup
	sed 's/^/      /' "/proc/$p/cgroup" 2>/dev/null
	v2=$(awk -F: '$1 == "0" {print $3}' "/proc/$p/cgroup" 2>/dev/null)
	[[ -n $v2 && -d $root$v2 ]] && echo "      cgroup v2 id (inode of $root$v2) = $(stat -c %i "$root$v2")"
}

cmd_demo() {
	alive kubelet || die "not up"
	local pod=${REALNODE_DEMO_POD:-realnode-demo} ns=default hostnet=${REALNODE_DEMO_HOSTNETWORK:-false}
	local sock=$RN_DIR/containerd/containerd.sock
	kc -n "$ns" delete pod "$pod" --ignore-not-found --grace-period=0 --force >/dev/null 2>&1 || true
	local t0
	t0=$(now)
	kc apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $pod, namespace: $ns, labels: {app: realnode-demo}}
spec:
  nodeName: $NODE_NAME
  hostNetwork: $hostnet
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [sleep, "2147483647"]
EOF
	kc -n "$ns" wait --for=condition=Ready "pod/$pod" --timeout=120s >&2 || {
		kc -n "$ns" describe pod "$pod" >&2
		die "pod did not become Ready"
	}
	log "pod Running after $(elapsed "$t0")s"
	kc -n "$ns" get pod "$pod" -o wide

	local alice
	alice=$(cat "$P/alice.token")
	local kx=(kubectl --server "https://127.0.0.1:$APISERVER_PORT" --certificate-authority "$P/ca.crt" --token "$alice")
	echo
	echo "=== kubectl exec as alice (group sre): sh -c 'id; cat /etc/hostname'"
	"${kx[@]}" -n "$ns" exec "$pod" -- sh -c 'id; cat /etc/hostname'
	echo "=== kubectl auth whoami as alice"
	"${kx[@]}" auth whoami 2>&1 || true

	# container ids / cgroup paths
	local cid sbx
	cid=$(kc -n "$ns" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')
	cid=${cid#containerd://}
	echo
	echo "=== container main: $cid"
	local ctr_=(ctr --address "$sock" -n k8s.io)
	sbx=$("${ctr_[@]}" containers info "$cid" | jq -r '.Spec.annotations["io.kubernetes.cri.sandbox-id"]')
	echo "    sandbox (pause) container: $sbx"
	echo "    OCI linux.cgroupsPath: $("${ctr_[@]}" containers info "$cid" | jq -r '.Spec.linux.cgroupsPath')"
	echo "=== host PIDs of the container processes (runc init pid per task):"
	"${ctr_[@]}" tasks ls | grep -E "^($cid|$sbx)" | sed 's/^/    /'
	local init_pid
	init_pid=$("${ctr_[@]}" tasks ls | awk -v c="$cid" '$1 == c {print $2}')
	local memcg
	memcg=$(awk -F: '$2 == "memory" {print $3}' "/proc/$init_pid/cgroup")
	echo "=== processes in the container's cgroup (/sys/fs/cgroup/memory$memcg/cgroup.procs):"
	local p
	for p in $(cat "/sys/fs/cgroup/memory$memcg/cgroup.procs"); do
		proc_line "$p"
		proc_cgroups "$p"
	done

	# a second exec that stays alive for a few seconds so its process tree can be shown
	echo
	# (the trailing "echo" keeps busybox ash from exec'ing the last command in place of the shell)
	local script='id; cat /etc/hostname; sleep 6; echo exec-done'
	echo "=== kubectl exec as alice (kept alive 6s): sh -c '$script'"
	local out=$RN_DIR/demo-exec.out
	"${kx[@]}" -n "$ns" exec "$pod" -- sh -c "$script" >"$out" 2>&1 &
	local kpid=$! shpid="" i
	for ((i = 0; i < 100; i++)); do
		for p in $(cat "/sys/fs/cgroup/memory$memcg/cgroup.procs" 2>/dev/null); do
			if [[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == "sh -c $script " ]]; then shpid=$p; break 2; fi
		done
		sleep 0.1
	done
	if [[ -n $shpid ]]; then
		echo "=== exec'd shell: host pid $shpid; children:"
		for p in $(cat "/proc/$shpid/task/$shpid/children" 2>/dev/null); do proc_line "$p"; done
		echo "=== parent chain of the exec'd shell (up to PID 1):"
		p=$shpid
		while [[ -n $p && $p != 0 ]]; do
			proc_line "$p"
			proc_cgroups "$p"
			[[ $p == 1 ]] && break
			p=$(awk '/^PPid:/{print $2}' "/proc/$p/status" 2>/dev/null)
		done
		echo "=== namespaces: shell vs. container init vs. host"
		for p in "$shpid" "$init_pid" $$; do
			printf '  pid=%-7s mnt=%s pid=%s net=%s uts=%s cgroup=%s\n' "$p" \
				"$(readlink "/proc/$p/ns/mnt")" "$(readlink "/proc/$p/ns/pid")" "$(readlink "/proc/$p/ns/net")" \
				"$(readlink "/proc/$p/ns/uts")" "$(readlink "/proc/$p/ns/cgroup")"
		done
	else
		log "WARNING: did not find the exec'd shell in the container cgroup"
	fi
	wait "$kpid" || log "second kubectl exec exited $?"
	echo "=== output of the second exec:"
	cat "$out"
	echo "=== mallory (group devs) exec: kubectl exec $pod -- id"
	kubectl --server "https://127.0.0.1:$APISERVER_PORT" --certificate-authority "$P/ca.crt" \
		--token "$(cat "$P/mallory.token")" -n "$ns" exec "$pod" -- id
}

# ============================================================== smoke ====
SMOKE_WEBHOOK_PY='
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        rev = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        req = rev["request"]
        name = req.get("name") or req.get("object", {}).get("metadata", {}).get("name", "")
        allowed = not name.startswith("deny-")
        resp = {"uid": req["uid"], "allowed": allowed}
        if not allowed:
            resp["status"] = {"code": 403, "message": "denied by realnode smoke webhook: " + name}
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print("webhook %s %s %s/%s allowed=%s peer=%s sni=%s" % (req["operation"], req["kind"]["kind"],
              req.get("namespace"), name, allowed, self.client_address[0], getattr(self.connection, "sni", None)), flush=True)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[3], sys.argv[4])
ctx.sni_callback = lambda sock, name, c: setattr(sock, "sni", name)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", sys.argv[1], sys.argv[2], flush=True)
srv.serve_forever()
'

cmd_smoke() {
	alive kubelet && alive kube-proxy && alive kube-controller-manager || die "not up (run '$0 up')"
	local ns=smoke t0 nip npass=0 nfail=0 out
	local whport=${REALNODE_SMOKE_WEBHOOK_PORT:-18443}
	nip=$(cat "$P/node-ip")
	t0=$(now)
	pass() { npass=$((npass + 1)); printf 'PASS  %-40s %s\n' "$1" "$2"; }
	fail() { nfail=$((nfail + 1)); printf 'FAIL  %-40s %s\n' "$1" "$2"; }
	info() { printf '      %s\n' "$*"; }
	retry() { # seconds cmd... : until it succeeds; output of the last try on stdout
		local end=$(($(date +%s) + $1)) o
		shift
		while :; do
			o=$("$@" 2>&1) && { printf '%s' "$o"; return 0; }
			(($(date +%s) >= end)) && { printf '%s' "$o"; return 1; }
			sleep 1
		done
	}
	kc delete validatingwebhookconfiguration realnode-smoke --ignore-not-found >/dev/null
	kc delete ns "$ns" --ignore-not-found --timeout=120s >/dev/null
	stop_pid smoke-webhook 5

	# -- 1. namespace: ServiceAccount + kube-root-ca.crt from the controller-manager
	kc create ns "$ns" >/dev/null
	if out=$(retry 30 sh -c "kubectl --kubeconfig $KCFG -n $ns get sa default -o name && kubectl --kubeconfig $KCFG -n $ns get cm kube-root-ca.crt -o name"); then
		pass "namespace gets SA + kube-root-ca.crt" "$(echo $out) after $(elapsed "$t0")s"
	else fail "namespace gets SA + kube-root-ca.crt" "$out"; fi

	# -- 2. Deployment + Service + DaemonSet, none with spec.nodeName
	local t1
	t1=$(now)
	kc apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $ns}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: $BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [sh, -c, 'mkdir -p /www && echo "ok from \$(hostname)" >/www/index.html && exec httpd -f -p 8080 -h /www']
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $ns}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: $ns}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      hostPID: true
      containers:
      - name: agent
        image: $BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [sleep, "2147483647"]
        securityContext: {privileged: true}
EOF
	if out=$(kc -n "$ns" rollout status deploy/web --timeout=90s 2>&1); then
		pass "Deployment web 2/2 available" "after $(elapsed "$t1")s"
	else fail "Deployment web 2/2 available" "$out"; fi
	if out=$(kc -n "$ns" rollout status ds/agent --timeout=60s 2>&1); then
		pass "DaemonSet agent rolled out" "after $(elapsed "$t1")s"
	else fail "DaemonSet agent rolled out" "$out"; fi
	out=$(kc -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase}@{.spec.nodeName}({.status.conditions[?(@.type=="PodScheduled")].status}) {end}')
	if [[ $(grep -o "=Running@$NODE_NAME(True)" <<<"$out" | wc -l) -eq 3 ]]; then
		pass "3 pods Running, placed by kube-scheduler" "$out"
	else fail "3 pods Running, placed by kube-scheduler" "$out"; fi
	local webpod agentpod cip
	webpod=$(kc -n "$ns" get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
	agentpod=$(kc -n "$ns" get pods -l app=agent -o jsonpath='{.items[0].metadata.name}')
	cip=$(kc -n "$ns" get svc web -o jsonpath='{.spec.clusterIP}')
	info "EndpointSlice: $(kc -n "$ns" get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{range .items[*].endpoints[*]}{.addresses[0]}(ready={.conditions.ready}) {end}')"

	# -- 3. host -> ClusterIP (kube-proxy DNAT), both replicas answer
	if out=$(retry 20 curl -fsS --max-time 3 "http://$cip:80/"); then
		local seen
		seen=$(for _ in $(seq 1 12); do curl -fsS --max-time 3 "http://$cip:80/"; done | sort -u | wc -l)
		pass "host -> ClusterIP $cip:80" "'$out'; $seen distinct backends in 12 requests"
	else fail "host -> ClusterIP $cip:80" "$out"; fi

	# -- 4. pod -> Service by DNS name (CoreDNS via kube-dns ClusterIP + kube-proxy)
	# (busybox 1.35 wget from Debian's busybox-static segfaults with -T: use `timeout` instead)
	if out=$(retry 20 kc -n "$ns" exec "$agentpod" -- timeout 5 wget -qO- "http://web.$ns.svc:80/"); then
		pass "pod -> http://web.$ns.svc:80 (DNS+Service)" "'$out'"
	else fail "pod -> http://web.$ns.svc:80 (DNS+Service)" "$out"; fi
	out=$(kc -n "$ns" exec "$agentpod" -- sh -c "nslookup web.$ns.svc.$CLUSTER_DOMAIN 2>&1 | grep -A1 '^Name' | tr '\n\t' '  '; grep -E '^(nameserver|search)' /etc/resolv.conf | tr '\n' ' '" 2>&1) || true
	info "nslookup/resolv.conf in pod: $out"
	# in-cluster clients reach the apiserver as kubernetes.default.svc:443 (endpoint NODE_IP:6443).
	# busybox's TLS client fails the handshake with Go's TLS server, so speak plain HTTP to the TLS
	# port: Go's http server answers "Client sent an HTTP request to an HTTPS server."
	if out=$(retry 10 kc -n "$ns" exec "$agentpod" -- sh -c 'printf "GET /version HTTP/1.0\r\n\r\n" | timeout 5 nc kubernetes.default.svc 443') &&
		[[ $out == *'HTTPS server'* ]]; then
		pass "pod -> kubernetes.default.svc:443" "$(tr -d '\r' <<<"$out" | tr '\n' ' ')"
	else fail "pod -> kubernetes.default.svc:443" "$out"; fi

	# -- 5. privileged + hostPID DaemonSet sees host processes
	if out=$(kc -n "$ns" exec "$agentpod" -- sh -c 'echo "pid1=$(cat /proc/1/comm) procs=$(ls -d /proc/[0-9]* | wc -l) caps=$(grep CapEff /proc/self/status | tr -d "\t")"' 2>&1) &&
		[[ $out != *pid1=sleep* && $out == *pid1=* ]]; then
		pass "DaemonSet pod: hostPID + privileged" "$out"
	else fail "DaemonSet pod: hostPID + privileged" "$out"; fi

	# -- 6. ServiceAccount token: projected volume, TokenRequest, TokenReview
	local tok rev
	tok=$(kc -n "$ns" exec "$webpod" -- cat /var/run/secrets/kubernetes.io/serviceaccount/token 2>&1) || tok=""
	rev=$(api POST /apis/authentication.k8s.io/v1/tokenreviews "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$tok\"}}" |
		jq -c '.status | {authenticated, user: .user.username, pod: .user.extra["authentication.kubernetes.io/pod-name"][0]}' 2>&1)
	if [[ $rev == *'"authenticated":true'* && $rev == *"system:serviceaccount:$ns:default"* ]]; then
		pass "mounted SA token -> TokenReview" "$rev"
	else fail "mounted SA token -> TokenReview" "token=${tok:0:20}... $rev"; fi
	tok=$(kc -n "$ns" create token default --duration=10m 2>&1) || true
	rev=$(api POST /apis/authentication.k8s.io/v1/tokenreviews "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$tok\"}}" |
		jq -c '.status | {authenticated, user: .user.username, audiences}' 2>&1)
	if [[ $rev == *'"authenticated":true'* && $rev == *"system:serviceaccount:$ns:default"* ]]; then
		pass "kubectl create token -> TokenReview" "$rev"
	else fail "kubectl create token -> TokenReview" "${tok:0:40} $rev"; fi

	# -- 7. validating webhook behind a Service: apiserver -> ClusterIP -> (kube-proxy) -> host process
	local wd=$RN_DIR/smoke whsvc=smoke-webhook
	mkdir -p "$wd"
	(
		cd "$wd"
		openssl req -newkey rsa:2048 -nodes -keyout wh.key -out wh.csr -subj "/CN=$whsvc.$ns.svc" 2>/dev/null
		printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,DNS:%s,DNS:%s\n' \
			"$whsvc.$ns.svc" "$whsvc.$ns" "$whsvc.$ns.svc.$CLUSTER_DOMAIN" >wh.ext
		openssl x509 -req -in wh.csr -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 -out wh.crt -extfile wh.ext 2>/dev/null
	)
	: >"$wd/webhook.log"
	start_daemon smoke-webhook "$wd/webhook.log" python3 -c "$SMOKE_WEBHOOK_PY" "$nip" "$whport" "$wd/wh.crt" "$wd/wh.key"
	wait_for 10 smoke-webhook "webhook listening" grep -q listening "$wd/webhook.log"
	kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: $whsvc, namespace: $ns}
spec:
  ports: [{name: https, port: 443, targetPort: $whport}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $whsvc-host
  namespace: $ns
  labels: {kubernetes.io/service-name: $whsvc, endpointslice.kubernetes.io/managed-by: realnode-smoke}
addressType: IPv4
ports: [{name: https, port: $whport, protocol: TCP}]
endpoints: [{addresses: ["$nip"], conditions: {ready: true}}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: realnode-smoke}
webhooks:
- name: deny-prefix.smoke.realnode
  clientConfig:
    service: {namespace: $ns, name: $whsvc, port: 443, path: /validate}
    caBundle: $(base64 -w0 "$P/ca.crt")
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: $ns}}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
  timeoutSeconds: 5
EOF
	local whip
	whip=$(kc -n "$ns" get svc "$whsvc" -o jsonpath='{.spec.clusterIP}')
	# the webhook configuration and kube-proxy's rules for the new Service take a moment
	out=$(retry 20 sh -c "kubectl --kubeconfig $KCFG -n $ns create configmap deny-me --from-literal=a=b 2>&1 | grep 'denied by realnode smoke webhook' || { kubectl --kubeconfig $KCFG -n $ns delete cm deny-me --ignore-not-found >/dev/null; false; }") || true
	if [[ $out == *'denied by realnode smoke webhook'* ]]; then
		pass "webhook via Service denies deny-me" "$out"
	else fail "webhook via Service denies deny-me" "$out; log: $(tail -3 "$wd/webhook.log")"; fi
	if out=$(kc -n "$ns" create configmap allow-me --from-literal=a=b 2>&1); then
		pass "webhook via Service allows allow-me" "$out"
	else fail "webhook via Service allows allow-me" "$out"; fi
	info "Service $whsvc clusterIP $whip:443 -> EndpointSlice $nip:$whport; webhook log:"
	sed 's/^/        /' "$wd/webhook.log" | tail -4
	info "conntrack (apiserver's connection to the cluster IP, DNATed by kube-proxy):"
	conntrack -L -p tcp -d "$whip" 2>/dev/null | head -2 | sed 's/^/        /' || true

	# -- cleanup
	local t2
	t2=$(now)
	kc delete validatingwebhookconfiguration realnode-smoke --ignore-not-found >/dev/null
	stop_pid smoke-webhook 5 2>/dev/null
	if out=$(kc delete ns "$ns" --timeout=120s 2>&1); then
		pass "namespace deleted (namespace controller + GC)" "after $(elapsed "$t2")s"
	else fail "namespace deleted" "$out"; fi
	echo "smoke: $npass passed, $nfail failed, $(elapsed "$t0")s"
	((nfail == 0))
}

# ============================================ apiserver-restart (Peregrine) ====
# Restart kube-apiserver with the flags `up` gave it plus REALNODE_APISERVER_ARGS:
# how the audit webhook is wired once Peregrine has made its CA (peregrine
# audit-config), as an operator does on a control-plane node.
cmd_apiserver_restart() {
	local t0 args
	t0=$(now)
	[[ -f $RN_DIR/kube-apiserver.cmdline ]] || die "no kube-apiserver started by up"
	[[ -f $RN_DIR/kube-apiserver.cmdline.up ]] || cp "$RN_DIR/kube-apiserver.cmdline" "$RN_DIR/kube-apiserver.cmdline.up"
	args=$(cat "$RN_DIR/kube-apiserver.cmdline.up")
	stop_pid kube-apiserver 20
	# shellcheck disable=SC2086 # the saved command line is %q-quoted; the extra flags are word-split on purpose
	eval "start_daemon kube-apiserver \"\$RN_DIR/logs/kube-apiserver.log\" $args ${REALNODE_APISERVER_ARGS:-}"
	wait_for 120 kube-apiserver "apiserver /readyz" sh -c "[ \"\$(curl -sS --max-time 2 --cacert $P/ca.crt --cert $P/admin.crt --key $P/admin.key https://127.0.0.1:$APISERVER_PORT/readyz)\" = ok ]"
	log "kube-apiserver restarted in $(elapsed "$t0")s"
}

# ================================================================= main ====
case ${1:-} in
apiserver-restart) cmd_apiserver_restart ;;
build) cmd_build ;;
up) cmd_up ;;
down) cmd_down ;;
demo) cmd_demo ;;
smoke) cmd_smoke ;;
status) cmd_status ;;
env) cmd_env ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
