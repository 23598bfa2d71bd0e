package webhook

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/internal/imageref"
	"github.com/peregrine-sec/peregrine/session"
)

// podFacts are derived once per request from a pod being written.
type podFacts struct {
	tags, noLimits []string
	// added are the ephemeral containers the request adds (see
	// addedEphemeral), and ephemeral their adm.ephemeral.* values by
	// property.
	added     []*fastjson.Value
	ephemeral map[string][]string
}

// pod computes the facts on first use; they are empty for anything but a
// pod create or update (of the pod or its ephemeralcontainers).
func (r *Request) pod() *podFacts {
	if r.facts != nil {
		return r.facts
	}
	r.facts = &podFacts{}
	q := r.Req
	if q.Resource.Resource != "pods" || (q.Operation != "CREATE" && q.Operation != "UPDATE") {
		return r.facts
	}
	spec := r.audit.Get("requestObject", "spec")
	switch q.SubResource {
	case "":
		r.facts.containerFacts(spec)
	case "ephemeralcontainers":
		r.facts.added = addedEphemeral(spec, r.old)
		r.facts.ephemeral = ephemeralFacts(spec, r.facts.added)
	}
	return r.facts
}

func (f *podFacts) containerFacts(spec *fastjson.Value) {
	for _, kind := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for _, c := range spec.GetArray(kind) {
			f.tags = append(f.tags, imageTag(string(c.GetStringBytes("image"))))
			if kind == "containers" && !hasLimits(c) {
				f.noLimits = append(f.noLimits, string(c.GetStringBytes("name")))
			}
		}
	}
}

// addedEphemeral are the ephemeral containers of spec whose names the old
// pod lacks: what an update of pods/ephemeralcontainers (kubectl debug)
// adds. The apiserver forbids changing or removing one, so the name is
// the identity; every earlier one was judged when it was added.
func addedEphemeral(spec, old *fastjson.Value) []*fastjson.Value {
	had := map[string]bool{}
	for _, c := range old.GetArray("spec", "ephemeralContainers") {
		had[string(c.GetStringBytes("name"))] = true
	}
	var added []*fastjson.Value
	for _, c := range spec.GetArray("ephemeralContainers") {
		if !had[string(c.GetStringBytes("name"))] {
			added = append(added, c)
		}
	}
	return added
}

// debugAnnouncements are the debug sessions of the ephemeral containers
// an update of pods/ephemeralcontainers adds, each bound by the agent to
// every process of its container. The first takes the request's id (the
// one the audit event's annotation names); kubectl adds one at a time.
func (r *Request) debugAnnouncements() []session.Announcement {
	q := r.Req
	var out []session.Announcement
	for i, c := range r.pod().added { // none but for an update of pods/ephemeralcontainers
		name := string(c.GetStringBytes("name"))
		id := r.ID
		if i > 0 {
			id += "/" + name
		}
		out = append(out, session.Announcement{ID: id, User: q.UserInfo.Username, Groups: q.UserInfo.Groups,
			Namespace: q.Namespace, Pod: q.Name, Container: name, Command: containerCommand(c),
			TTY: c.GetBool("tty"), Kind: session.KindDebug, Time: time.Now()})
	}
	return out
}

// Properties of ephemeral containers that no ka.* field has; the others
// are the ka.req.pod.containers.* suffixes, with the k8saudit semantics.
const (
	targetProperty  = "target"  // targetContainerName, where set
	commandProperty = "command" // command and args joined with blanks, one per container
)

var ephemeralProperties = []string{"name", "image", "image.repository", "privileged", "add_capabilities", "eff_run_as_user"}

// ephemeralFacts reads every adm.ephemeral.* property of the added
// containers: few requests add any, and rules read several.
func ephemeralFacts(spec *fastjson.Value, added []*fastjson.Value) map[string][]string {
	if len(added) == 0 {
		return nil
	}
	m := map[string][]string{}
	for _, prop := range ephemeralProperties {
		read, _ := audit.ContainerProperty(prop) // each is a ka.req.pod.containers.* suffix (TestEphemeralFields)
		m[prop], _ = read(spec, added)
	}
	for _, c := range added {
		if t := c.GetStringBytes("targetContainerName"); len(t) > 0 {
			m[targetProperty] = append(m[targetProperty], string(t))
		}
		m[commandProperty] = append(m[commandProperty], strings.Join(containerCommand(c), " "))
	}
	return m
}

// containerCommand is a container's command followed by its args: what it
// runs when both are set (an image's entrypoint is not known here).
func containerCommand(c *fastjson.Value) []string {
	var cmd []string
	for _, key := range []string{"command", "args"} {
		for _, v := range c.GetArray(key) {
			cmd = append(cmd, string(v.GetStringBytes()))
		}
	}
	return cmd
}

// imageTag is the tag of an image reference as the kubelet pulls it: ""
// for a digest-pinned image, "latest" for one with neither.
func imageTag(image string) string {
	switch ref := imageref.Parse(image); {
	case ref.Digest != "":
		return ""
	case ref.Tag == "":
		return "latest"
	default:
		return ref.Tag
	}
}

func hasLimits(c *fastjson.Value) bool {
	o := c.GetObject("resources", "limits")
	return o != nil && o.Len() > 0
}
