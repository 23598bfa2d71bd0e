package kube

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// CABundle keeps the caBundle of every webhook in a
// ValidatingWebhookConfiguration equal to the service's CA, so that the
// apiserver trusts the service's certificates. It watches that one object
// (a field selector on its name, which RBAC can restrict by resourceNames):
// a configuration applied after the service started, or an apply that
// resets the caBundle, is set right away.
type CABundle struct {
	Client  kubernetes.Interface
	Webhook string // the ValidatingWebhookConfiguration's name
	CA      []byte // PEM
	Log     *slog.Logger
}

// Start watches until ctx ends.
func (b *CABundle) Start(ctx context.Context) error {
	f := informers.NewSharedInformerFactoryWithOptions(b.Client, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + b.Webhook }))
	inf := f.Admissionregistration().V1().ValidatingWebhookConfigurations().Informer()
	sync := func(o any) {
		if vwc, ok := o.(*admissionv1.ValidatingWebhookConfiguration); ok && b.stale(vwc) {
			if err := b.Sync(ctx); err != nil && ctx.Err() == nil {
				b.Log.Error("keeping the webhook's caBundle current", "err", err)
			}
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: sync,
		UpdateFunc: func(_, o any) { sync(o) }}); err != nil {
		return fmt.Errorf("watch validatingwebhookconfiguration %s: %w", b.Webhook, err)
	}
	f.Start(ctx.Done())
	<-ctx.Done()
	f.Shutdown()
	return nil
}

func (b *CABundle) stale(vwc *admissionv1.ValidatingWebhookConfiguration) bool {
	for _, h := range vwc.Webhooks {
		if !bytes.Equal(h.ClientConfig.CABundle, b.CA) {
			return true
		}
	}
	return false
}

// Sync sets the caBundle where it differs (a conflicting write is retried
// by the watch, which sees the newer object).
func (b *CABundle) Sync(ctx context.Context) error {
	hooks := b.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	vwc, err := hooks.Get(ctx, b.Webhook, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get validatingwebhookconfiguration %s: %w", b.Webhook, err)
	}
	if !b.stale(vwc) {
		return nil
	}
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig.CABundle = b.CA
	}
	if _, err := hooks.Update(ctx, vwc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update validatingwebhookconfiguration %s: %w", b.Webhook, err)
	}
	b.Log.Info("set the webhook's caBundle", "name", b.Webhook)
	return nil
}
