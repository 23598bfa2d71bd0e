package webhook

import (
	"strings"

	"github.com/valyala/fastjson"
)

// podFacts are derived once per request from a pod being written.
type podFacts struct {
	tags, noLimits []string
	// spec is the pod spec of the request's object; ephemeral are the
	// ephemeral containers the request adds (see addedEphemeral).
	spec      *fastjson.Value
	ephemeral []*fastjson.Value
	lists     map[string][]string // adm.ephemeral.* values by property, read once
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
	r.facts.spec = r.audit.Value().Get("requestObject", "spec")
	switch q.SubResource {
	case "":
		r.facts.containerFacts()
	case "ephemeralcontainers":
		r.facts.ephemeral = addedEphemeral(r.facts.spec, r.old)
	}
	return r.facts
}

func (f *podFacts) containerFacts() {
	for _, kind := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for _, c := range f.spec.GetArray(kind) {
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

// imageTag is the tag of an image reference: what follows the last ':'
// after the last '/', "" for a digest-pinned image, "latest" for neither.
func imageTag(image string) string {
	if strings.Contains(image, "@") {
		return ""
	}
	last := image[strings.LastIndexByte(image, '/')+1:]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		return last[i+1:]
	}
	return "latest"
}

func hasLimits(c *fastjson.Value) bool {
	o := c.GetObject("resources", "limits")
	return o != nil && o.Len() > 0
}
