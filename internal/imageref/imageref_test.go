package imageref

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		ref  string
		want Ref
	}{
		{"nginx", Ref{Repository: "nginx"}},
		{"nginx:1.27", Ref{Repository: "nginx", Tag: "1.27"}},
		{"registry:5000/app", Ref{Repository: "registry:5000/app"}},
		{"registry:5000/team/app:1.2", Ref{Repository: "registry:5000/team/app", Tag: "1.2"}},
		{"app@sha256:abc", Ref{Repository: "app", Digest: "sha256:abc"}},
		{"docker.io/library/app:2@sha256:abc", Ref{Repository: "docker.io/library/app", Tag: "2", Digest: "sha256:abc"}},
		{"", Ref{}},
	} {
		if diff := cmp.Diff(tt.want, Parse(tt.ref)); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.ref, diff)
		}
	}
}
