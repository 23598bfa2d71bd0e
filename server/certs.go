package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/client-go/kubernetes"

	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/kube"
)

// managedCerts sets up the service's own certificates when
// certificates.secret is set (nil otherwise): the CA from its Secret (made
// on first start) and published, the webhook's caBundle kept current, and
// a serving certificate renewed before it expires. What it starts runs
// until ctx ends, in wg.
func managedCerts(ctx context.Context, c *config.Config, log *slog.Logger, wg *sync.WaitGroup) (*certs.Rotating, error) {
	mc := c.Certificates
	if mc.Secret == "" {
		return nil, nil
	}
	client, err := kubeClient(c, "certificates.secret")
	if err != nil {
		return nil, err
	}
	store := &kube.CAStore{Client: client, Namespace: mc.Namespace, Secret: mc.Secret, ConfigMap: mc.ConfigMap,
		Validity: mc.CAValidity, Log: log}
	ca, err := store.LoadOrCreate(ctx)
	if err != nil {
		return nil, err
	}
	if mc.ConfigMap != "" {
		if err := store.Publish(ctx, ca); err != nil {
			return nil, err
		}
	}
	rot, err := certs.NewRotating(ca, mc.DNSNames, mc.Validity, log)
	if err != nil {
		return nil, err
	}
	wg.Go(func() { rot.Start(ctx) })
	if mc.Webhook != "" {
		b := &kube.CABundle{Client: client, Webhook: mc.Webhook, CA: ca.CertPEM, Log: log}
		wg.Go(func() {
			if err := b.Start(ctx); err != nil {
				log.Error("caBundle watch stopped", "err", err)
			}
		})
	}
	return rot, nil
}

// kubeClient is a client of the configured cluster, for a feature
// (named for the message) that cannot work without one.
func kubeClient(c *config.Config, feature string) (kubernetes.Interface, error) {
	cfg, ok, err := kube.Config(c.Kubernetes.Kubeconfig)
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%s needs a cluster: run in one or set kubernetes.kubeconfig", feature)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return client, nil
}
