package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	byPod  map[string]podEntry   // "ns/name" → its node and containers
	nodes  map[string]*nodeEntry // by name
}

// podEntry is a pod's containers (a few: a slice is smaller than a map).
type podEntry struct {
	node       string
	containers []*Container
}

// nodeEntry is a node's pods, and a version that moves when they change:
// a replica sends each agent its node's containers when they changed.
type nodeEntry struct {
	version uint64
	pods    map[string][]*Container // by "ns/name"
}

// NewPods returns an empty index that nothing fills.
func NewPods() *Pods {
	return &Pods{byID: map[string]*Container{}, byPod: map[string]podEntry{}, nodes: map[string]*nodeEntry{}}
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
	p.Set(pod)
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
	if pod, ok := o.(*corev1.Pod); ok {
		return compact(pod), nil
	}
	return o, nil
}

// watchedPod is what the watch keeps of a pod, in the informer's store
// and in the index: a Pod struct alone is 1.2 KB before any of its
// fields, and a replica watches every pod of the cluster.
type watchedPod struct {
	metav1.ObjectMeta // name, namespace, uid, labels and resourceVersion only
	node, ip          string
	containers        []watchedContainer // init, regular and ephemeral, from the status
}

type watchedContainer struct{ name, image, id string }

func compact(pod *corev1.Pod) *watchedPod {
	w := &watchedPod{node: pod.Spec.NodeName, ip: pod.Status.PodIP}
	w.Name, w.Namespace, w.UID, w.Labels = pod.Name, pod.Namespace, pod.UID, pod.Labels
	w.ResourceVersion = pod.ResourceVersion
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses,
		pod.Status.EphemeralContainerStatuses} {
		for _, s := range list {
			w.containers = append(w.containers, watchedContainer{s.Name, s.Image, runtimeID(s.ContainerID)})
		}
	}
	return w
}

// GetObjectKind and DeepCopyObject make a watchedPod what an informer
// stores.
func (w *watchedPod) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

func (w *watchedPod) DeepCopyObject() runtime.Object {
	c := *w
	w.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	c.containers = slices.Clone(w.containers)
	return &c
}

func (p *Pods) set(o any) {
	if w, ok := o.(*watchedPod); ok {
		p.index(w)
	}
}

// Set indexes pod as the watch does when the pod is added or changes.
func (p *Pods) Set(pod *corev1.Pod) { p.index(compact(pod)) }

// index indexes w's containers; they share its labels, which nothing
// changes (an update brings a new watchedPod).
func (p *Pods) index(w *watchedPod) {
	key := w.Namespace + "/" + w.Name
	containers := make([]*Container, len(w.containers))
	for i, s := range w.containers {
		containers[i] = &Container{ID: s.id, Name: s.name, Image: s.image, Namespace: w.Namespace,
			Pod: w.Name, PodUID: string(w.UID), Node: w.node, Labels: w.Labels, PodIP: w.ip}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked(key)
	p.byPod[key] = podEntry{w.node, containers}
	for _, c := range containers {
		if c.ID != "" {
			p.byID[c.ID] = c
		}
	}
	n := p.nodes[w.node]
	if n == nil {
		n = &nodeEntry{pods: map[string][]*Container{}}
		p.nodes[w.node] = n
	}
	n.pods[key] = containers
	n.version++
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
	e, ok := p.byPod[key]
	if !ok {
		return
	}
	for _, c := range e.containers {
		delete(p.byID, c.ID)
	}
	if n := p.nodes[e.node]; n != nil {
		delete(n.pods, key)
		n.version++
	}
	delete(p.byPod, key)
}

// NodeVersion changes whenever a container of the node may have.
func (p *Pods) NodeVersion(node string) uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if n := p.nodes[node]; n != nil {
		return n.version
	}
	return 0
}

// Node returns the containers with an id on the node.
func (p *Pods) Node(node string) []*Container {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []*Container
	if n := p.nodes[node]; n != nil {
		for _, containers := range n.pods {
			for _, c := range containers {
				if c.ID != "" {
					out = append(out, c)
				}
			}
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
	containers := p.byPod[ns+"/"+pod].containers
	if name == "" && len(containers) == 1 {
		return containers[0], true
	}
	for _, c := range containers {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}
