package certs

import (
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/testenv"
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

// loadedPair is a Source serving a fresh pair of its CA's, from files.
func loadedPair(t *testing.T) (ca *testpki.CA, cert, key string, s *Source) {
	ca = testpki.NewCA(t)
	cert, key = ca.Serving(t, "webhook")
	s, err := LoadFiles(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return ca, cert, key, s
}

// TestCertReload: a rotated certificate (same paths, new content) is
// served without a restart.
func TestCertReload(t *testing.T) {
	ca, cert, key, s := loadedPair(t)
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

// TestCertReloadFailure: files that do not load keep the current
// certificate served, said once; the next good pair is served; a change
// of the key file alone is read too.
func TestCertReloadFailure(t *testing.T) {
	ca, cert, key, s := loadedPair(t)
	before := servedSerial(t, s)
	var logs testenv.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Watch(ctx, 5*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	touches := 0
	touch := func(path string, content []byte) {
		os.WriteFile(path, content, 0o600)
		touches++ // a newer time each time, visible to a coarse mtime
		later := time.Now().Add(time.Duration(touches) * time.Second)
		os.Chtimes(path, later, later)
	}
	touch(cert, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	testenv.WaitLine(t, &logs, 5*time.Second, "keeping the current one")
	time.Sleep(50 * time.Millisecond) // ten more looks at the unchanged broken files
	if n := strings.Count(logs.String(), "keeping the current one"); n != 1 || servedSerial(t, s) != before {
		t.Errorf("a broken pair: said %d times, serial %s; want once, still %s", n, servedSerial(t, s), before)
	}
	newCert, newKey := ca.Serving(t, "webhook-rotated")
	k, _ := os.ReadFile(newKey)
	touch(key, k) // the key alone: a mismatched pair, kept out, said again
	for deadline := time.Now().Add(5 * time.Second); strings.Count(logs.String(), "keeping the current one") < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the change of the key file alone was not read:\n%s", logs.String())
		}
	}
	c, _ := os.ReadFile(newCert)
	touch(cert, c)
	testenv.WaitLine(t, &logs, 5*time.Second, "serving certificate reloaded")
	if servedSerial(t, s) == before {
		t.Error("the good pair is not served")
	}
}
