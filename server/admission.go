package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/peregrine-sec/peregrine/webhook"
)

// addAdmission sets up the validating webhook listener: TLS always, with
// the certificate from files (reloaded) or generated at start.
func (s *servers) addAdmission(a config.Admission, set *rules.Set, outs *output.Outputs, o Options) error {
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
	tlsCfg, err := s.admissionTLS(a, o)
	if err != nil {
		return err
	}
	if a.ClientCAFile != "" {
		pem, err := os.ReadFile(a.ClientCAFile)
		if err != nil {
			return fmt.Errorf("admission client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("admission client CA %s: no certificate found", a.ClientCAFile)
		}
		tlsCfg.ClientCAs, tlsCfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(a.ListenAddress, strconv.Itoa(a.ListenPort)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.admissionLn = tlsListener(ln, tlsCfg)
	h := webhook.NewHandler(deciders, a.LatencyBudget, a.MaxBodyBytes, outs.Publish, o.Registry, o.Log)
	if o.Sessions != nil {
		h.AnnounceExecs(func(a session.Announcement) { o.Sessions.Announce(a, "admission") })
	}
	r := gin.New()
	r.Use(gin.Recovery())
	r.POST(a.Endpoint, h.Serve)
	s.admission = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
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
func (s *servers) admissionTLS(a config.Admission, o Options) (*tls.Config, error) {
	if a.CertFile == "" && s.managed != nil {
		s.caBundle = s.managed.CA().CertPEM
		return s.managed.ServerTLS(), nil
	}
	var err error
	if s.certs, err = certsOf(a, o); err != nil {
		return nil, err
	}
	s.caBundle = s.certs.CABundle
	return s.certs.TLSConfig(), nil
}

func certsOf(a config.Admission, o Options) (*webhook.CertSource, error) {
	if a.CertFile != "" {
		return webhook.LoadCerts(a.CertFile, a.KeyFile)
	}
	certs, err := webhook.GenerateCerts(a.DNSNames)
	if err != nil {
		return nil, err
	}
	if a.CABundleFile != "" {
		if err := os.WriteFile(a.CABundleFile, certs.CABundle, 0o644); err != nil {
			return nil, fmt.Errorf("write admission CA bundle: %w", err)
		}
	}
	o.Log.Info("admission certificate generated", "dns_names", a.DNSNames, "ca_bundle_file", a.CABundleFile)
	return certs, nil
}
