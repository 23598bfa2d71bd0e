package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Container is what the cluster says of one container of a pod.
type Container struct {
	ID        string // the runtime's id, without the runtime:// prefix
	Name      string
	Image     string
	Namespace string
	Pod       string
	PodUID    string
	Node      string
	Labels    map[string]string
	PodIP     string
}

// Pods indexes the cluster's pods by container id and by pod, from an
// informer. Safe for concurrent use.
type Pods struct {
	client kubernetes.Interface // what Start watches with; nil: an index filled by hand (tests)
	mu     sync.RWMutex
	byID   map[string]*Container
	byPod  map[string]map[string]*Container // "ns/name" → container name → container
	nodes  map[string]uint64                // node → version of its containers
}

// NewPods returns an empty index that nothing fills.
func NewPods() *Pods {
	return &Pods{byID: map[string]*Container{}, byPod: map[string]map[string]*Container{}, nodes: map[string]uint64{}}
}

// WatchPods returns an index that Start fills from the cluster.
func WatchPods(client kubernetes.Interface) *Pods {
	p := NewPods()
	p.client = client
	return p
}

// Fetch reads a pod from the apiserver and indexes it now, for when the
// watch has not brought it yet: it lags behind the apiserver for a pod
// just started, and for longer while it reconnects after the apiserver
// restarted.
func (p *Pods) Fetch(ctx context.Context, namespace, name string) error {
	if p.client == nil {
		return errors.New("fetch pod: no cluster client")
	}
	pod, err := p.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
	}
	trimmed, _ := trim(pod)
	p.set(trimmed)
	return nil
}

// Start watches pods until ctx ends.
func (p *Pods) Start(ctx context.Context) error {
	if p.client == nil {
		return errors.New("watch pods: no cluster client")
	}
	f := informers.NewSharedInformerFactory(p.client, 10*time.Minute)
	inf := f.Core().V1().Pods().Informer()
	// Keep only what the index needs: pods can be large (managed fields,
	// annotations), and a cluster has many.
	if err := inf.SetTransform(trim); err != nil {
		return err
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { p.set(o) },
		UpdateFunc: func(_, o any) { p.set(o) },
		DeleteFunc: func(o any) { p.remove(o) },
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	<-ctx.Done()
	f.Shutdown()
	return nil
}

func trim(o any) (any, error) {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return o, nil
	}
	out := &corev1.Pod{}
	out.Name, out.Namespace, out.UID, out.Labels = pod.Name, pod.Namespace, pod.UID, pod.Labels
	out.ResourceVersion = pod.ResourceVersion
	out.Spec.NodeName = pod.Spec.NodeName
	out.Spec.Containers = make([]corev1.Container, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		out.Spec.Containers[i] = corev1.Container{Name: c.Name, Image: c.Image}
	}
	out.Status.PodIP = pod.Status.PodIP
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses,
		pod.Status.EphemeralContainerStatuses} {
		for _, s := range list {
			out.Status.ContainerStatuses = append(out.Status.ContainerStatuses,
				corev1.ContainerStatus{Name: s.Name, Image: s.Image, ContainerID: s.ContainerID})
		}
	}
	return out, nil
}

func (p *Pods) set(o any) {
	if pod, ok := o.(*corev1.Pod); ok {
		p.Set(pod)
	}
}

// Set indexes pod as the watch does when the pod is added or changes.
func (p *Pods) Set(pod *corev1.Pod) {
	key := pod.Namespace + "/" + pod.Name
	byName := map[string]*Container{}
	for _, s := range pod.Status.ContainerStatuses {
		c := &Container{ID: runtimeID(s.ContainerID), Name: s.Name, Image: s.Image, Namespace: pod.Namespace,
			Pod: pod.Name, PodUID: string(pod.UID), Node: pod.Spec.NodeName, Labels: maps.Clone(pod.Labels),
			PodIP: pod.Status.PodIP}
		byName[s.Name] = c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked(key)
	p.byPod[key] = byName
	for _, c := range byName {
		if c.ID != "" {
			p.byID[c.ID] = c
		}
	}
	p.nodes[pod.Spec.NodeName]++
}

func (p *Pods) remove(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	m, err := meta.Accessor(o)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked(m.GetNamespace() + "/" + m.GetName())
}

func (p *Pods) dropLocked(key string) {
	for _, c := range p.byPod[key] {
		delete(p.byID, c.ID)
		p.nodes[c.Node]++
	}
	delete(p.byPod, key)
}

// NodeVersion changes whenever a container of the node may have.
func (p *Pods) NodeVersion(node string) uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.nodes[node]
}

// Node returns the containers with an id on the node.
func (p *Pods) Node(node string) []*Container {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []*Container
	for _, c := range p.byID {
		if c.Node == node {
			out = append(out, c)
		}
	}
	return out
}

// runtimeID strips the runtime:// prefix of a container status id.
func runtimeID(id string) string {
	if _, after, ok := strings.Cut(id, "://"); ok {
		return after
	}
	return id
}

// ByID returns the container with this runtime id.
func (p *Pods) ByID(id string) (*Container, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	c, ok := p.byID[id]
	return c, ok
}

// ByName returns a pod's container by name; an empty name is the pod's
// only container, or none when it has several.
func (p *Pods) ByName(ns, pod, name string) (*Container, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	byName := p.byPod[ns+"/"+pod]
	if name == "" && len(byName) == 1 {
		for _, c := range byName {
			return c, true
		}
	}
	c, ok := byName[name]
	return c, ok
}
