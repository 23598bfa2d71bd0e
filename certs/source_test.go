package certs

import (
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/testpki"
)

func servedSerial(t *testing.T, s *Source) string {
	t.Helper()
	c, err := s.TLSConfig().GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x.SerialNumber.String()
}

// TestCertReload: a rotated certificate (same paths, new content) is
// served without a restart.
func TestCertReload(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Serving(t, "webhook")
	s, err := LoadFiles(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	before := servedSerial(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Watch(ctx, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	newCert, newKey := ca.Serving(t, "webhook-rotated")
	for src, dst := range map[string]string{newCert: cert, newKey: key} {
		b, _ := os.ReadFile(src)
		os.WriteFile(dst, b, 0o600)
	}
	later := time.Now().Add(time.Second) // make the change visible to a coarse mtime
	os.Chtimes(cert, later, later)
	deadline := time.Now().Add(5 * time.Second)
	for servedSerial(t, s) == before {
		if time.Now().After(deadline) {
			t.Fatal("certificate not reloaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGenerate(t *testing.T) {
	s, err := Generate([]string{"peregrine-webhook.peregrine.svc"})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CABundle) {
		t.Fatal("CA bundle is not PEM")
	}
	c, _ := s.TLSConfig().GetCertificate(nil)
	leaf, _ := x509.ParseCertificate(c.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "peregrine-webhook.peregrine.svc"}); err != nil {
		t.Errorf("generated certificate does not verify: %v", err)
	}
}
