package kube

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

func pod(name, node string, statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + name),
		Labels: map[string]string{"app": name}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "busybox:1.36", Command: []string{"sh"}}}},
		Status: corev1.PodStatus{PodIP: "10.0.0.7", ContainerStatuses: statuses}}
}

// TestPodsIndex: containers are found by runtime id, by pod and container
// name, and by node, and a node's version moves when its pods change.
func TestPodsIndex(t *testing.T) {
	p := NewPods()
	web := pod("web", "node-1", corev1.ContainerStatus{Name: "app", Image: "busybox:1.36", ContainerID: "containerd://abc"})
	trimmed, _ := trim(web)
	if tp := trimmed.(*watchedPod); len(tp.ManagedFields) != 0 || len(tp.containers) != 1 {
		t.Errorf("trim kept what the index does not need, or lost a container: %+v", tp)
	}
	v0 := p.NodeVersion("node-1")
	p.set(trimmed)
	want := &Container{ID: "abc", Name: "app", Image: "busybox:1.36", Namespace: "shop", Pod: "web", PodUID: "uid-web",
		Node: "node-1", Labels: map[string]string{"app": "web"}, PodIP: "10.0.0.7"}
	got, ok := p.ByID("abc")
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("ByID (-want +got):\n%s", diff)
	}
	if c, ok := p.ByName("shop", "web", ""); !ok || c.ID != "abc" {
		t.Errorf("the only container by an empty name: %v %v", c, ok)
	}
	if nodes := p.Node("node-1"); len(nodes) != 1 || p.NodeVersion("node-1") == v0 || len(p.Node("node-2")) != 0 {
		t.Errorf("node-1 has %d containers, version %d", len(nodes), p.NodeVersion("node-1"))
	}
	v1 := p.NodeVersion("node-1")
	p.remove(cache.DeletedFinalStateUnknown{Key: "shop/web", Obj: web})
	if _, ok := p.ByID("abc"); ok || p.NodeVersion("node-1") == v1 || len(p.Node("node-1")) != 0 {
		t.Error("a deleted pod is still indexed, or its node's version did not move")
	}
}
