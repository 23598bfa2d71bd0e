package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"time"

	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/lifecycle"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/peregrine-sec/peregrine/store"
	"github.com/peregrine-sec/peregrine/webhook"
)

// addAdmission sets up the validating webhook listener: TLS always, with
// the certificate from files (reloaded) or generated at start.
func (s *Service) addAdmission(a config.Admission, set *rules.Set, managed *certs.Rotating, o Options) error {
	policy, err := policyOf(a)
	if err != nil {
		return err
	}
	deciders := make([]*webhook.Decider, max(1, a.Workers))
	for i := range deciders {
		if deciders[i], err = webhook.NewDecider(set, policy, o.Config.Priority, o.Hostname); err != nil {
			return fmt.Errorf("compile admission rules: %w", err)
		}
	}
	tlsCfg, err := s.admissionTLS(a, managed, o)
	if err != nil {
		return err
	}
	if a.ClientCAFile != "" {
		if tlsCfg.ClientCAs, err = certs.LoadPool(a.ClientCAFile); err != nil {
			return fmt.Errorf("admission client CA: %w", err)
		}
		tlsCfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	ln, err := listen(joinHostPort(a.ListenAddress, a.ListenPort), tlsCfg)
	if err != nil {
		return err
	}
	h := webhook.NewHandler(deciders, a.LatencyBudget, a.MaxBodyBytes, s.outputs.Publish, o.Registry, o.Log)
	if s.sessions != nil {
		h.AnnounceExecs(func(a session.Announcement) { s.sessions.Announce(a, "admission") })
	}
	if s.store != nil {
		h.RecordExecs(func(a session.Announcement, allowed bool) {
			verdict := store.Denied
			if allowed {
				verdict = store.Allowed
			}
			s.store.RecordSession(storedSession(a, verdict))
		})
	}
	r := newRouter()
	r.POST(a.Endpoint, h.Serve)
	s.admission = newEndpoint("admission", ln, r)
	s.admission.stopped = h.Wait // decisions past their budget publish their alerts
	o.Log.Info("admission rules loaded", "rules", len(deciders[0].Rules()), "mode", a.Mode)
	return nil
}

func policyOf(a config.Admission) (webhook.Policy, error) {
	mode, err := webhook.ParseMode(a.Mode)
	if err != nil {
		return webhook.Policy{}, err
	}
	p := webhook.Policy{Mode: mode, NamespaceModes: map[string]webhook.Mode{}, Exempt: a.ExemptNamespaces}
	for ns, m := range a.NamespaceModes {
		if p.NamespaceModes[ns], err = webhook.ParseMode(m); err != nil {
			return p, err
		}
	}
	return p, nil
}

// admissionTLS serves the certificate from files, else the managed one,
// else one generated at start.
func (s *Service) admissionTLS(a config.Admission, managed *certs.Rotating, o Options) (*tls.Config, error) {
	if a.CertFile == "" && managed != nil {
		s.caBundle = managed.CA().CertPEM
		return managed.ServerTLS(), nil
	}
	src, err := certsOf(a, o)
	if err != nil {
		return nil, err
	}
	s.caBundle = src.CABundle
	s.background = append(s.background, lifecycle.Loop(func(ctx context.Context) { src.Watch(ctx, 5*time.Second, o.Log) }))
	return src.TLSConfig(), nil
}

func certsOf(a config.Admission, o Options) (*certs.Source, error) {
	if a.CertFile != "" {
		return certs.LoadFiles(a.CertFile, a.KeyFile)
	}
	src, err := certs.Generate(a.DNSNames)
	if err != nil {
		return nil, err
	}
	if a.CABundleFile != "" {
		if err := os.WriteFile(a.CABundleFile, src.CABundle, 0o644); err != nil {
			return nil, fmt.Errorf("write admission CA bundle: %w", err)
		}
	}
	o.Log.Info("admission certificate generated", "dns_names", a.DNSNames, "ca_bundle_file", a.CABundleFile)
	return src, nil
}
