package kube

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// TestReplicaURLs: the other replicas' ready endpoints, as agent-stream
// URLs, sorted, once each; this replica and unready ones left out.
func TestReplicaURLs(t *testing.T) {
	ready, unready := true, false
	ep := func(pod string, ready *bool, addrs ...string) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: addrs, Conditions: discoveryv1.EndpointConditions{Ready: ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: pod}}
	}
	r := &Replicas{Self: "server-a", Port: 9767, Path: "/agent/v1/stream"}
	got := r.urls([]any{
		&discoveryv1.EndpointSlice{Endpoints: []discoveryv1.Endpoint{ep("server-c", &ready, "10.0.0.3"), ep("server-a", &ready, "10.0.0.1")}},
		&discoveryv1.EndpointSlice{Endpoints: []discoveryv1.Endpoint{ep("server-b", nil, "10.0.0.2"), ep("server-d", &unready, "10.0.0.4"),
			ep("server-c", &ready, "10.0.0.3"), ep("server-e", &ready, "fd00::5")}},
	})
	want := []string{"https://10.0.0.2:9767/agent/v1/stream", "https://10.0.0.3:9767/agent/v1/stream", "https://[fd00::5]:9767/agent/v1/stream"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("urls (-want +got):\n%s", diff)
	}
}
