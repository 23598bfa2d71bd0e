package server

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/session"
)

type remoteAgents struct {
	mu  sync.Mutex
	got []session.Announcement
}

func (r *remoteAgents) Announce(a session.Announcement) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, a)
	return true
}

func (r *remoteAgents) Confirm(session.Confirmation) {}

func (r *remoteAgents) announced() []session.Announcement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]session.Announcement(nil), r.got...)
}

// TestAnnounceWaitsForThePodWatch: an exec announced before the pod watch
// has its pod (the watch lags the apiserver) is routed once the pod shows
// up, within the resolve time; one whose pod never shows is counted
// unresolved after it.
func TestAnnounceWaitsForThePodWatch(t *testing.T) {
	pods, remote, reg := kube.NewPods(), &remoteAgents{}, prometheus.NewRegistry()
	r := newSessionRouter(pods, nil, remote, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.resolveFor, r.resolveEvery = time.Second, 10*time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { r.Start(ctx) })
	defer wg.Wait()
	defer cancel()
	r.Announce(session.Announcement{ID: "late-pod", User: "alice", Namespace: "shop", Pod: "app", Container: "app"}, "admission")
	r.Announce(session.Announcement{ID: "no-pod", User: "bob", Namespace: "shop", Pod: "ghost", Container: "c"}, "admission")
	time.Sleep(100 * time.Millisecond)
	pods.Set(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop", UID: "u1"},
		Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", ContainerID: "containerd://" + fullID}}}})
	deadline := time.Now().Add(2 * time.Second)
	for len(remote.announced()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := remote.announced()
	if len(got) != 1 || got[0].ID != "late-pod" || got[0].ContainerID != fullID || got[0].Node != "node-1" {
		t.Fatalf("announced %+v", got)
	}
	time.Sleep(1100 * time.Millisecond)
	if n := testutil.ToFloat64(r.routed.WithLabelValues("admission", "unresolved")); n != 1 {
		t.Errorf("unresolved %v, want 1 (the ghost pod)", n)
	}
	if n := testutil.ToFloat64(r.routed.WithLabelValues("admission", "routed")); n != 1 {
		t.Errorf("routed %v, want 1", n)
	}
}

const fullID = "8973a637915f67e2638e9a33ec88f7dcef86e26949ac39a4bfddddb3a55a80ce"
