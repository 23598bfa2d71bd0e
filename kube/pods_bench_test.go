package kube

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	krt "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// BenchmarkPodWatchMemory: the heap the pod watch keeps (the informer's
// trimmed copies and the index) for 30,000 running pods, as a replica
// watching a 1,000-node cluster holds them. The pods carry what real ones
// do that the watch drops: managed fields, annotations, commands, env.
func BenchmarkPodWatchMemory(b *testing.B) {
	const n = 30000
	objs := make([]krt.Object, 0, n)
	for i := range n {
		p := pod(fmt.Sprintf("web-%d", i), fmt.Sprintf("node-%d", i/30), corev1.ContainerStatus{
			Name: "app", Image: "busybox:1.36", ContainerID: fmt.Sprintf("containerd://%064x", i)})
		p.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(make([]byte, 1024))}
		p.Labels["pod-template-hash"] = "7d4b9c8f6"
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "MODE", Value: "production"}, {Name: "LOG", Value: "info"}}
		p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet", Operation: "Update"}, {Manager: "kubectl", Operation: "Apply"}}
		objs = append(objs, p)
	}
	client := fake.NewClientset(objs...)
	for range b.N {
		before := heap()
		p := WatchPods(client)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Start(ctx) }()
		for deadline := time.Now().Add(time.Minute); len(p.Node("node-999")) < 30; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("the watch did not sync")
			}
		}
		b.ReportMetric(float64(heap()-before)/n, "heap-B/pod")
		cancel()
		<-done
		runtime.KeepAlive(p)
	}
}

// heap is the live heap after a collection.
func heap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
