package webhook

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/peregrine-sec/peregrine/session"
)

func TestExecAnnouncement(t *testing.T) {
	connect := func(sub, options string) *admissionv1.AdmissionRequest {
		return &admissionv1.AdmissionRequest{UID: "u1", Operation: admissionv1.Connect, SubResource: sub, Namespace: "shop", Name: "web",
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			UserInfo: authenticationv1.UserInfo{Username: "alice", Groups: []string{"devs"}},
			Object:   runtime.RawExtension{Raw: []byte(options)}}
	}
	create := &admissionv1.AdmissionRequest{UID: "u2", Operation: admissionv1.Create, Namespace: "shop", Name: "web",
		Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Object: runtime.RawExtension{Raw: []byte(`{}`)}}
	tests := []struct {
		name string
		req  *admissionv1.AdmissionRequest
		want session.Announcement
		ok   bool
	}{
		{"exec", connect("exec", `{"kind":"PodExecOptions","command":["sh","-c","id"],"container":"app","stdin":true}`),
			session.Announcement{User: "alice", Groups: []string{"devs"}, Namespace: "shop", Pod: "web", Container: "app",
				Command: []string{"sh", "-c", "id"}}, true},
		{"attach", connect("attach", `{"kind":"PodAttachOptions","container":"app","stdin":true,"tty":true}`),
			session.Announcement{User: "alice", Groups: []string{"devs"}, Namespace: "shop", Pod: "web", Container: "app", Attach: true, TTY: true}, true},
		{"port forward", connect("portforward", `{"kind":"PodPortForwardOptions","ports":[80]}`), session.Announcement{}, false},
		{"pod create", create, session.Announcement{}, false},
	}
	for _, tt := range tests {
		req, err := NewRequest(tt.req, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, ok := req.execAnnouncement()
		if ok && got.ID != req.ID {
			t.Errorf("%s: session id %q is not the request id %q", tt.name, got.ID, req.ID)
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(session.Announcement{}, "ID", "Time")); diff != "" || ok != tt.ok {
			t.Errorf("%s: ok %v (-want +got):\n%s", tt.name, ok, diff)
		}
	}
}
