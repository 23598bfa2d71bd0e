package fields

//go:generate go run gen.go -corpus ../../../shared/conformance

// Source names.
const (
	SourceSyscall      = "syscall"
	SourceK8sAudit     = "k8s_audit"
	SourceK8sAdmission = "k8s_admission"
)

// Syscall returns the catalogue of the syscall source: libsinsp's fields,
// the container plugin's container.* and k8s.* fields, and Peregrine's
// k8s.exec.* correlation fields.
func Syscall() *Catalog {
	return newCatalog(SourceSyscall, []string{"evt.arg", "evt.rawarg"},
		libsinspFields(), containerFields(), execFields())
}

// K8sAudit returns the catalogue of the k8s_audit source: the k8saudit
// plugin's ka.* fields, the json plugin's json.*/jevt.* fields and the
// generic evt.* fields every plugin source has.
func K8sAudit() *Catalog {
	return newCatalog(SourceK8sAudit, nil, k8sauditFields(), jsonFields(), pluginEventFields())
}

// K8sAdmission returns the catalogue of the k8s_admission source: the
// ka.* names read from the AdmissionReview (so macros written for audit
// serve admission too), json/jevt, and the adm.* fields of admission.
func K8sAdmission() *Catalog {
	return newCatalog(SourceK8sAdmission, nil, k8sauditFields(), jsonFields(), admissionFields())
}

func admissionFields() []Field {
	s, b := String, Bool
	return []Field{
		{Name: "adm.uid", Type: s, Desc: "The uid of the AdmissionReview request."},
		{Name: "adm.id", Type: s, Desc: "Peregrine's id for the request, also sent in auditAnnotations (<webhook>/request-id)."},
		{Name: "adm.operation", Type: s, Desc: "The operation: CREATE, UPDATE, DELETE or CONNECT."},
		{Name: "adm.dry_run", Type: b, Desc: "'true' for a dry-run request."},
		{Name: "adm.kind", Type: s, Desc: "The kind of the object (Pod, PodExecOptions, ...)."},
		{Name: "adm.kind.group", Type: s, Desc: "The API group of the object's kind."},
		{Name: "adm.kind.version", Type: s, Desc: "The API version of the object's kind."},
		{Name: "adm.user.uid", Type: s, Desc: "The uid of the requesting user."},
		{Name: "adm.object", Type: s, Desc: "The object of the request, as JSON."},
		{Name: "adm.object.value", Type: s, Flags: ArgRequired | ArgKey, Desc: "A value of the object at a JSON pointer, e.g. adm.object.value[/spec/hostPID]."},
		{Name: "adm.old_object", Type: s, Desc: "The object before an UPDATE or DELETE, as JSON."},
		{Name: "adm.old_object.value", Type: s, Flags: ArgRequired | ArgKey, Desc: "A value of the old object at a JSON pointer."},
		{Name: "adm.exec.command", Type: s, Flags: IsList, Desc: "CONNECT pods/exec: the command, one element per argument."},
		{Name: "adm.exec.command_line", Type: s, Desc: "CONNECT pods/exec: the command joined with blanks."},
		{Name: "adm.exec.container", Type: s, Desc: "CONNECT pods/exec or pods/attach: the container."},
		{Name: "adm.exec.tty", Type: b, Desc: "CONNECT pods/exec or pods/attach: 'true' when a terminal is requested."},
		{Name: "adm.exec.stdin", Type: b, Desc: "CONNECT pods/exec or pods/attach: 'true' when stdin is attached."},
		{Name: "adm.portforward.ports", Type: s, Flags: IsList, Desc: "CONNECT pods/portforward: the ports."},
		{Name: "adm.pod.image_tags", Type: s, Flags: IsList, Desc: "Pod writes: the tag of every container image (init and ephemeral too); 'latest' when an image has neither tag nor digest."},
		{Name: "adm.pod.containers_without_limits", Type: s, Flags: IsList, Desc: "Pod writes: the containers that set no resources.limits."},
		{Name: "adm.ephemeral.name", Type: s, Flags: IsList, Desc: "UPDATE pods/ephemeralcontainers (kubectl debug): the names of the ephemeral containers the request adds."},
		{Name: "adm.ephemeral.image", Type: s, Flags: IsList, Desc: "The images of the ephemeral containers the request adds."},
		{Name: "adm.ephemeral.image.repository", Type: s, Flags: IsList, Desc: "The image repositories of the ephemeral containers the request adds."},
		{Name: "adm.ephemeral.command", Type: s, Flags: IsList, Desc: "The command and args, joined with blanks, of each ephemeral container the request adds."},
		{Name: "adm.ephemeral.target", Type: s, Flags: IsList, Desc: "The target containers (targetContainerName, kubectl debug --target) of the ephemeral containers the request adds."},
		{Name: "adm.ephemeral.privileged", Type: s, Flags: IsList, Desc: "The privileged flag of the ephemeral containers the request adds that set one."},
		{Name: "adm.ephemeral.add_capabilities", Type: s, Flags: IsList, Desc: "All capabilities the ephemeral containers the request adds ask to add."},
		{Name: "adm.ephemeral.run_as_user", Type: s, Flags: IsList, Desc: "The uid each ephemeral container the request adds starts with: its own runAsUser, else the pod's, else 0."},
	}
}

// containerFields are the container plugin's fields (plugin 0.4), which
// Falco ≥ 0.41 uses for container.* and k8s.* on syscall events.
func containerFields() []Field {
	s, arg := String, ArgRequired|ArgKey
	return []Field{
		{Name: "container.id", Type: s, Desc: "The truncated container ID (first 12 characters), or 'host' for host processes."},
		{Name: "container.full_id", Type: s, Desc: "The full container ID."},
		{Name: "container.name", Type: s, Desc: "The container name."},
		{Name: "container.image", Type: s, Desc: "The container image name (e.g. falcosecurity/falco:latest)."},
		{Name: "container.image.id", Type: s, Desc: "The container image ID."},
		{Name: "container.type", Type: s, Desc: "The container runtime type (docker, containerd, cri-o, podman, ...)."},
		{Name: "container.privileged", Type: Bool, Desc: "'true' for containers running as privileged."},
		{Name: "container.mounts", Type: s, Desc: "All mount information, as a comma-separated list of source:dest:mode:rdrw:propagation."},
		{Name: "container.mount", Type: s, Flags: arg, Desc: "Information about a single mount, by index or mount source."},
		{Name: "container.mount.source", Type: s, Flags: arg, Desc: "The mount source, by index or mount destination."},
		{Name: "container.mount.dest", Type: s, Flags: arg, Desc: "The mount destination, by index or mount source."},
		{Name: "container.mount.mode", Type: s, Flags: arg, Desc: "The mount mode, by index or mount source."},
		{Name: "container.mount.rdwr", Type: s, Flags: arg, Desc: "The mount rdwr value, by index or mount source."},
		{Name: "container.mount.propagation", Type: s, Flags: arg, Desc: "The mount propagation value, by index or mount source."},
		{Name: "container.image.repository", Type: s, Desc: "The container image repository (e.g. falcosecurity/falco)."},
		{Name: "container.image.tag", Type: s, Desc: "The container image tag (e.g. stable, latest)."},
		{Name: "container.image.digest", Type: s, Desc: "The container image registry digest."},
		{Name: "container.healthcheck", Type: s, Desc: "The container's health check."},
		{Name: "container.liveness_probe", Type: s, Desc: "The container's liveness probe."},
		{Name: "container.readiness_probe", Type: s, Desc: "The container's readiness probe."},
		{Name: "container.start_ts", Type: AbsTime, Desc: "Container start as epoch timestamp in nanoseconds."},
		{Name: "container.duration", Type: RelTime, Desc: "Nanoseconds since container.start_ts."},
		{Name: "container.ip", Type: s, Desc: "The container's primary IP address."},
		{Name: "container.cni.json", Type: s, Desc: "The container's CNI result field from the respective pod status info."},
		{Name: "container.host_pid", Type: Bool, Desc: "'true' if the container is running in the host PID namespace."},
		{Name: "container.host_network", Type: Bool, Desc: "'true' if the container is running in the host network namespace."},
		{Name: "container.host_ipc", Type: Bool, Desc: "'true' if the container is running in the host IPC namespace."},
		{Name: "container.label", Type: s, Flags: arg, Desc: "Container label, by key (e.g. container.label[foo])."},
		{Name: "container.labels", Type: s, Desc: "Container comma-separated key/value labels."},
		{Name: "k8s.pod.name", Type: s, Desc: "The Kubernetes pod name."},
		{Name: "k8s.ns.name", Type: s, Desc: "The Kubernetes namespace name."},
		{Name: "k8s.pod.id", Type: s, Flags: Deprecated, Desc: "Deprecated alias of k8s.pod.uid."},
		{Name: "k8s.pod.uid", Type: s, Desc: "The Kubernetes pod UID."},
		{Name: "k8s.pod.sandbox_id", Type: s, Desc: "The truncated pod sandbox ID (first 12 characters)."},
		{Name: "k8s.pod.full_sandbox_id", Type: s, Desc: "The full pod sandbox ID."},
		{Name: "k8s.pod.label", Type: s, Flags: arg, Desc: "The Kubernetes pod label, by key (e.g. k8s.pod.label[app])."},
		{Name: "k8s.pod.labels", Type: s, Desc: "The Kubernetes pod comma-separated key/value labels."},
		{Name: "k8s.pod.ip", Type: s, Desc: "The Kubernetes pod IP address."},
		{Name: "k8s.pod.cni.json", Type: s, Desc: "The Kubernetes pod CNI result field from the respective pod status info."},
	}
}

// execFields are Peregrine's correlation fields: the Kubernetes exec or
// attach session a process descends from.
func execFields() []Field {
	return []Field{
		{Name: "k8s.exec.user", Type: String, Desc: "Kubernetes user whose exec/attach session started this process tree."},
		{Name: "k8s.exec.groups", Type: String, Flags: IsList, Desc: "Groups of that Kubernetes user."},
		{Name: "k8s.exec.command", Type: String, Desc: "The command of the exec request, joined with blanks."},
		{Name: "k8s.exec.id", Type: String, Desc: "Peregrine's id of the exec session (also in the audit annotations)."},
		{Name: "k8s.exec.kind", Type: String, Desc: "exec (kubectl exec: the command's processes) or debug (kubectl debug: every process of the ephemeral container it added)."},
		{Name: "k8s.exec.auditid", Type: String, Desc: "The audit ID of the exec request, once its audit event has arrived."},
		{Name: "k8s.exec.time", Type: AbsTime, Desc: "When the exec request was admitted, in nanoseconds since the epoch."},
		{Name: "k8s.exec.ambiguous", Type: Bool, Desc: "'true' when identical commands raced in one container and the session was bound first-come."},
	}
}

// jsonFields are the json plugin's fields and their legacy jevt aliases.
func jsonFields() []Field {
	var out []Field
	for _, p := range []string{"json", "jevt"} {
		out = append(out,
			Field{Name: p + ".value", Type: String, Flags: ArgRequired | ArgKey, Desc: "The value at a JSON pointer (RFC 6901) in the event, e.g. " + p + ".value[/user/username]."},
			Field{Name: p + ".obj", Type: String, Desc: "The whole event as JSON text."},
			Field{Name: p + ".rawtime", Type: String, Desc: "The event time in nanoseconds since the epoch."},
		)
	}
	return out
}

// pluginEventFields are the evt.* fields libsinsp offers on plugin sources.
func pluginEventFields() []Field {
	keep := map[string]bool{
		"evt.num": true, "evt.time": true, "evt.time.s": true, "evt.time.iso8601": true,
		"evt.datetime": true, "evt.datetime.s": true, "evt.rawtime": true, "evt.rawtime.s": true,
		"evt.rawtime.ns": true, "evt.reltime": true, "evt.reltime.s": true, "evt.reltime.ns": true,
		"evt.pluginname": true, "evt.plugininfo": true, "evt.source": true, "evt.is_async": true,
		"evt.asynctype": true, "evt.hostname": true, "evt.type": true,
	}
	var out []Field
	for _, f := range libsinspFields() {
		if keep[f.Name] {
			out = append(out, f)
		}
	}
	return out
}
