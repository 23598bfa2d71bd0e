package imageref

import "strings"

// Ref is an image reference's parts: registry:5000/team/app:1.2@sha256:…
// is repository registry:5000/team/app, tag 1.2, digest sha256:….
type Ref struct {
	Repository, Tag, Digest string
}

// Parse splits ref; a part it lacks is "". A ':' before the last '/' is
// a registry's port, not a tag.
func Parse(ref string) Ref {
	var r Ref
	ref, r.Digest, _ = strings.Cut(ref, "@")
	slash := strings.LastIndexByte(ref, '/')
	if colon := strings.LastIndexByte(ref, ':'); colon > slash {
		ref, r.Tag = ref[:colon], ref[colon+1:]
	}
	r.Repository = ref
	return r
}
