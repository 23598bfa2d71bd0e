package certs

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// Source serves a listener's certificate: from files, reloaded when they
// change (cert-manager or a Secret update rotates them), or generated at
// start.
type Source struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	modTime           time.Time
	// CABundle is the PEM of the generated CA, for the webhook
	// configuration's caBundle; empty when certificates come from files.
	CABundle []byte
}

// LoadFiles reads a certificate pair from files.
func LoadFiles(certFile, keyFile string) (*Source, error) {
	s := &Source{certFile: certFile, keyFile: keyFile}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Source) reload() error {
	st, err := os.Stat(s.certFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	s.cur.Store(&pair)
	s.modTime = st.ModTime()
	return nil
}

// Watch reloads the files when they change, until ctx ends.
func (s *Source) Watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	if s.certFile == "" {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if st, err := os.Stat(s.certFile); err == nil && !st.ModTime().Equal(s.modTime) {
				if err := s.reload(); err != nil {
					log.Error("reloading the serving certificate (keeping the current one)", "file", s.certFile, "err", err)
				} else {
					log.Info("serving certificate reloaded", "file", s.certFile)
				}
			}
		}
	}
}

// TLSConfig returns a server configuration that always serves the current
// certificate.
func (s *Source) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cur.Load(), nil }}
}

// Generate makes a CA and a serving certificate for the DNS names (plus
// localhost and 127.0.0.1), valid for a year.
func Generate(dnsNames []string) (*Source, error) {
	now := time.Now()
	ca, err := NewCA(now, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Serving(append([]string{"localhost", "127.0.0.1"}, dnsNames...), now, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	s := &Source{CABundle: ca.CertPEM}
	s.cur.Store(cert)
	return s, nil
}
