package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/prometheus/client_golang/prometheus"
)

// TestAnnounceReadsAPodTheWatchLacks: an exec announced for a pod the
// watch has not brought (it lags, or reconnects after an apiserver
// restart) is routed once the router has read the pod from the real
// apiserver, well within the resolve time.
func TestAnnounceReadsAPodTheWatchLacks(t *testing.T) {
	k, kubeconfig := startKube(t, "shop")
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/shop/pods", kubetest.Obj("Pod", "app", map[string]any{
		"nodeName": "node-1", "containers": []any{map[string]any{"name": "app", "image": "busybox"}}}), 201)
	k.MustDo(t, kubetest.AdminToken, http.MethodPatch, "/api/v1/namespaces/shop/pods/app/status", map[string]any{
		"status": map[string]any{"containerStatuses": []any{map[string]any{"name": "app", "image": "busybox", "imageID": "",
			"ready": true, "restartCount": 0, "containerID": "containerd://" + fullID, "state": map[string]any{"running": map[string]any{}}}}}}, 200)
	pods := kube.WatchPods(clientFor(t, kubeconfig)) // never started: the watch has nothing
	remote := &remoteAgents{}
	r := newSessionRouter(pods, nil, remote, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	start := time.Now()
	r.Announce(session.Announcement{ID: "x", User: "alice", Namespace: "shop", Pod: "app", Container: "app"}, "admission")
	for len(remote.announced()) == 0 && time.Since(start) < r.resolveFor {
		time.Sleep(10 * time.Millisecond)
	}
	if got := remote.announced(); len(got) != 1 || got[0].ContainerID != fullID || got[0].Node != "node-1" {
		t.Fatalf("announced %+v", got)
	}
	t.Logf("routed %s after the announcement", time.Since(start).Round(time.Millisecond))
}
