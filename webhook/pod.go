package webhook

import (
	"strings"

	"github.com/valyala/fastjson"
)

// podFacts are derived once per request from a pod being written.
type podFacts struct {
	tags, noLimits []string
}

// pod computes the facts on first use; they are empty for anything but a
// pod create or update.
func (r *Request) pod() *podFacts {
	if r.facts != nil {
		return r.facts
	}
	r.facts = &podFacts{}
	q := r.Req
	if q.Resource.Resource != "pods" || q.SubResource != "" || (q.Operation != "CREATE" && q.Operation != "UPDATE") {
		return r.facts
	}
	spec := r.audit.Value().Get("requestObject", "spec")
	for _, kind := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for _, c := range spec.GetArray(kind) {
			r.facts.tags = append(r.facts.tags, imageTag(string(c.GetStringBytes("image"))))
			if kind == "containers" && !hasLimits(c) {
				r.facts.noLimits = append(r.facts.noLimits, string(c.GetStringBytes("name")))
			}
		}
	}
	return r.facts
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
