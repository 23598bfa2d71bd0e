package server

import (
	"context"
	"fmt"
	"log/slog"

	"k8s.io/client-go/kubernetes"

	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/lifecycle"
	"github.com/peregrine-sec/peregrine/kube"
)

// cluster is the service's one client of its cluster, shared by what needs
// it: the pod watch, the managed certificates, agents' token reviews.
type cluster struct {
	client kubernetes.Interface // nil outside a cluster without a kubeconfig
}

// need returns the client for a feature (named for the message) that
// cannot work without one.
func (c cluster) need(feature string) (kubernetes.Interface, error) {
	if c.client == nil {
		return nil, fmt.Errorf("%s needs a cluster: run in one or set kubernetes.kubeconfig", feature)
	}
	return c.client, nil
}

// manageCerts sets up the service's own certificates when
// certificates.secret is set (nil otherwise): the CA from its Secret (made
// on first start) and published, the webhook's caBundle kept current, and
// a serving certificate renewed before it expires. What has to keep
// running joins the service's background.
func (s *Service) manageCerts(ctx context.Context, c *config.Config, cl cluster, log *slog.Logger) (*certs.Rotating, error) {
	mc := c.Certificates
	if mc.Secret == "" {
		return nil, nil
	}
	client, err := cl.need("certificates.secret")
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
	s.background = append(s.background, lifecycle.Loop(rot.Start))
	if mc.Webhook != "" {
		b := &kube.CABundle{Client: client, Webhook: mc.Webhook, CA: ca.CertPEM, Log: log}
		s.background = append(s.background, lifecycle.Func(b.Start))
	}
	return rot, nil
}
