package kube

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Replicas watches the EndpointSlices of the Service in front of the
// replicas' agent listeners, and tells OnChange the other ready replicas'
// agent-stream URLs whenever they change: how replicas learn each other
// on a cluster, to tell their agents.
type Replicas struct {
	Client             kubernetes.Interface
	Namespace, Service string
	Self               string // this replica's pod name, left out
	Port               int    // the agents' listener port of each replica
	Path               string // its endpoint: /agent/v1/stream
	OnChange           func(urls []string)
	Log                *slog.Logger
}

// Start watches until ctx ends.
func (r *Replicas) Start(ctx context.Context) error {
	f := informers.NewSharedInformerFactoryWithOptions(r.Client, 10*time.Minute, informers.WithNamespace(r.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = discoveryv1.LabelServiceName + "=" + r.Service
		}))
	inf := f.Discovery().V1().EndpointSlices().Informer()
	var last []string
	update := func(any) {
		urls := r.urls(inf.GetStore().List())
		if !slices.Equal(urls, last) {
			last = urls
			r.Log.Info("replicas", "peers", urls)
			r.OnChange(urls)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: update,
		UpdateFunc: func(_, o any) { update(o) }, DeleteFunc: update}); err != nil {
		return fmt.Errorf("watch endpointslices of %s/%s: %w", r.Namespace, r.Service, err)
	}
	f.Start(ctx.Done())
	<-ctx.Done()
	f.Shutdown()
	return nil
}

// urls is the ready endpoints of the slices but this replica, sorted.
func (r *Replicas) urls(objs []any) []string {
	var out []string
	for _, o := range objs {
		s, ok := o.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" && ep.TargetRef.Name == r.Self {
				continue
			}
			for _, a := range ep.Addresses {
				out = append(out, "https://"+net.JoinHostPort(a, strconv.Itoa(r.Port))+r.Path)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
