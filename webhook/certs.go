package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// CertSource serves the webhook's certificate: from files, reloaded when
// they change (cert-manager or a Secret update rotates them), or generated
// at start.
type CertSource struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	modTime           time.Time
	// CABundle is the PEM of the generated CA, for the webhook
	// configuration's caBundle; empty when certificates come from files.
	CABundle []byte
}

// LoadCerts reads a certificate pair from files.
func LoadCerts(certFile, keyFile string) (*CertSource, error) {
	s := &CertSource{certFile: certFile, keyFile: keyFile}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *CertSource) reload() error {
	st, err := os.Stat(s.certFile)
	if err != nil {
		return fmt.Errorf("admission certificate: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("admission certificate: %w", err)
	}
	s.cur.Store(&pair)
	s.modTime = st.ModTime()
	return nil
}

// Watch reloads the files when they change, until ctx ends.
func (s *CertSource) Watch(ctx context.Context, every time.Duration, log *slog.Logger) {
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
					log.Error("reloading admission certificate (keeping the current one)", "err", err)
				} else {
					log.Info("admission certificate reloaded", "file", s.certFile)
				}
			}
		}
	}
}

// TLSConfig returns a server configuration that always serves the current
// certificate.
func (s *CertSource) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cur.Load(), nil }}
}

// GenerateCerts makes a CA and a serving certificate for the DNS names
// (plus localhost and 127.0.0.1), valid for a year.
func GenerateCerts(dnsNames []string) (*CertSource, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peregrine-webhook-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("generate CA: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "peregrine-webhook"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    append([]string{"localhost"}, dnsNames...), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("generate serving certificate: %w", err)
	}
	s := &CertSource{CABundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	s.cur.Store(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})
	return s, nil
}
