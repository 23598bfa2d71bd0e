#!/usr/bin/env bash
# Record an audit corpus from a real cluster: the realnode control plane
# (apiserver, controller-manager, scheduler), its kubelet and containerd,
# and a scripted working day of kubectl by three users, through the audit
# policy Peregrine ships (manifests/audit-policy.yaml). The apiserver's own
# audit log (JSON lines, RequestResponse bodies where the policy asks for
# them) is written gzip'd to OUT.
#
#   record-audit.sh OUT.jsonl.gz        (root; RECORD_ROUNDS, default 12)
#
# Each round, in namespaces of its own: admin deploys and scales apps,
# rolls them out, creates configmaps, secrets, services, service accounts,
# RBAC, jobs and cronjobs, and some things the k8s_audit rules are about
# (privileged, hostPath and hostNetwork pods, credentials in configmaps,
# wildcard roles, cluster-admin bindings, kube-system objects); alice
# (group sre) reads, describes, tails logs and execs into pods; mallory
# (group devs) tries what she may not. The controllers, the scheduler and
# the kubelet answer all of it as they do on any cluster.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: record-audit.sh OUT.jsonl.gz}
rounds=${RECORD_ROUNDS:-12}
work=$(mktemp -d)
trap 'bash "$here/realnode.sh" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cp "$here/../../manifests/audit-policy.yaml" "$work/policy.yaml"
bash "$here/realnode.sh" build
bash "$here/realnode.sh" down >/dev/null
REALNODE_APISERVER_ARGS="--audit-policy-file=$work/policy.yaml --audit-log-path=$work/audit.log \
	--audit-log-format=json --audit-log-maxsize=0 --audit-log-mode=blocking" bash "$here/realnode.sh" up
eval "$(bash "$here/realnode.sh" env)"

as() { local user=$1; shift; kubectl --kubeconfig "$REALNODE_DIR/kubeconfig-$user" "$@"; }
admin() { as admin "$@"; }
try() { "$@" >/dev/null 2>&1 || true; } # a refusal is part of the day
img=$REALNODE_BUSYBOX_IMAGE

pod() { # pod NS NAME [SPEC-OVERRIDES]: a sleeping busybox pod
	admin -n "$1" run "$2" --image="$img" --image-pull-policy=Never --restart=Never \
		${3:+--overrides="$3"} --command -- sleep 3600 >/dev/null
}

round() {
	local r=$1 ns=shop-$1 web=web-$1
	admin create namespace "$ns" >/dev/null
	admin create namespace "$web" >/dev/null
	admin -n "$ns" create deployment cart --image="$img" --replicas=2 -- sleep 3600 >/dev/null
	admin -n "$ns" patch deployment cart --type=json \
		-p '[{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"Never"}]' >/dev/null
	admin -n "$ns" expose deployment cart --port=80 >/dev/null
	admin -n "$web" create deployment front --image="$img" --replicas=1 -- sleep 3600 >/dev/null
	admin -n "$web" create service nodeport front --tcp=80:80 >/dev/null
	admin -n "$ns" create configmap settings --from-literal=mode=prod --from-literal=round="$r" >/dev/null
	admin -n "$ns" create configmap cloud --from-literal=aws_access_key_id=AKIAEXAMPLE$r >/dev/null
	admin -n "$ns" create secret generic db --from-literal=password=s3cret$r >/dev/null
	admin -n "$ns" create serviceaccount worker >/dev/null
	admin -n "$ns" create role reader --verb=get,list,watch --resource=pods,configmaps >/dev/null
	admin -n "$ns" create rolebinding reader --role=reader --serviceaccount="$ns:worker" >/dev/null
	admin -n "$ns" create job once --image="$img" -- sh -c 'echo done' >/dev/null
	admin -n "$ns" create cronjob tick --image="$img" --schedule='*/1 * * * *' -- true >/dev/null
	pod "$ns" debug
	admin -n "$ns" wait pod/debug --for=condition=Ready --timeout=120s >/dev/null
	alice_work "$ns"
	mallory_work "$ns"
	risky "$ns" "$r"
	admin -n "$ns" scale deployment cart --replicas=3 >/dev/null
	admin -n "$ns" set env deployment/cart ROUND="$r" >/dev/null
	admin -n "$ns" rollout status deployment/cart --timeout=120s >/dev/null || true
	admin -n "$ns" label pod debug tier=tools >/dev/null
	admin -n "$ns" annotate configmap settings owner=alice >/dev/null
	admin -n "$ns" scale deployment cart --replicas=1 >/dev/null
	try admin -n "$ns" delete pod -l app=cart --wait=false
	admin get pods -A -o wide >/dev/null
	admin get deployments,replicasets,services,configmaps -A >/dev/null
	if ((r > 1)); then # the round before last ends: namespaces deleted, their objects with them
		admin delete namespace "shop-$((r - 1))" "web-$((r - 1))" --wait=false >/dev/null
	fi
}

alice_work() {
	local ns=$1
	as alice get pods -A >/dev/null
	as alice -n "$ns" get pod debug -o yaml >/dev/null
	as alice -n "$ns" logs debug >/dev/null
	as alice -n "$ns" exec debug -- sh -c 'id; cat /etc/hostname' >/dev/null
	as alice -n "$ns" exec debug -- ls /etc >/dev/null
	try as alice -n "$ns" get secrets
	try as alice -n "$ns" delete pod debug --dry-run=server
}

mallory_work() {
	local ns=$1
	try as mallory get secrets -A
	try as mallory -n "$ns" get secret db -o yaml
	try as mallory create clusterrolebinding mallory-admin --clusterrole=cluster-admin --user=mallory
	try as mallory get nodes
	try as mallory -n kube-system get configmaps
	as mallory -n "$ns" exec debug -- cat /etc/passwd >/dev/null
	try as mallory -n "$ns" run evil --image="$img" --restart=Never -- sleep 60
}

risky() {
	local ns=$1 r=$2
	pod "$ns" priv '{"spec":{"containers":[{"name":"priv","image":"'"$img"'","imagePullPolicy":"Never","command":["sleep","3600"],"securityContext":{"privileged":true}}]}}'
	pod "$ns" hostpath '{"spec":{"containers":[{"name":"hostpath","image":"'"$img"'","imagePullPolicy":"Never","command":["sleep","3600"],"volumeMounts":[{"name":"etc","mountPath":"/host/etc"}]}],"volumes":[{"name":"etc","hostPath":{"path":"/etc"}}]}}'
	pod "$ns" hostnet '{"spec":{"hostNetwork":true,"containers":[{"name":"hostnet","image":"'"$img"'","imagePullPolicy":"Never","command":["sleep","3600"]}]}}'
	admin create clusterrole "wide-$r" --verb='*' --resource='*' >/dev/null
	admin create clusterrolebinding "ops-$r" --clusterrole=cluster-admin --group=ops >/dev/null
	admin -n kube-system create serviceaccount "helper-$r" >/dev/null
	admin -n kube-system create configmap "tuning-$r" --from-literal=x=1 >/dev/null
	admin -n "$ns" delete pod priv hostpath hostnet --wait=false >/dev/null
	admin delete clusterrole "wide-$r" >/dev/null
	admin delete clusterrolebinding "ops-$r" >/dev/null
}

for r in $(seq 1 "$rounds"); do
	echo "round $r of $rounds" >&2
	round "$r"
done
sleep 70 # a last cronjob run, and the controllers' answers to the deletions
gzip -9 -c "$work/audit.log" >"$out"
echo "recorded $(zcat "$out" | wc -l) events ($(zcat "$out" | wc -c) bytes) into $out" >&2
