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
	seen              stamp // the files as last read, good or not
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

// stamp tells a change of either file: a rotation may rewrite the key
// alone (a re-encoding, or the first of two writes).
type stamp struct {
	certTime, keyTime time.Time
	certSize, keySize int64
}

func stampOf(certFile, keyFile string) (stamp, error) {
	c, err := os.Stat(certFile)
	if err != nil {
		return stamp{}, err
	}
	k, err := os.Stat(keyFile)
	if err != nil {
		return stamp{}, err
	}
	return stamp{c.ModTime(), k.ModTime(), c.Size(), k.Size()}, nil
}

// reload reads the pair; on error the current certificate stays.
func (s *Source) reload() error {
	st, err := stampOf(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	s.seen = st
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	s.cur.Store(&pair)
	return nil
}

// Watch reloads the files when either changes, until ctx ends. A pair
// that does not load (half written, mismatched) leaves the current
// certificate served, said once per change.
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
			if st, err := stampOf(s.certFile, s.keyFile); err == nil && st != s.seen {
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
