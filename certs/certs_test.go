package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestCA(t *testing.T) {
	now := time.Now()
	ca, err := NewCA(now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseCA(ca.CertPEM, ca.KeyPEM, now)
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("parse back: %v", err)
	}
	srv, err := ca.Serving([]string{"peregrine.peregrine.svc", "127.0.0.1"}, now, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !srv.Leaf.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("serving certificate outlives its CA: %v > %v", srv.Leaf.NotAfter, ca.Cert.NotAfter)
	}
	opts := x509.VerifyOptions{Roots: ca.pool(), DNSName: "peregrine.peregrine.svc", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := srv.Leaf.Verify(opts); err != nil {
		t.Errorf("serving certificate: %v", err)
	}
	if err := srv.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("IP SAN: %v", err)
	}
	cl, err := ca.Client("kube-apiserver", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Leaf.Verify(x509.VerifyOptions{Roots: ca.pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil || cl.Leaf.Subject.CommonName != "kube-apiserver" {
		t.Errorf("client certificate %q: %v", cl.Leaf.Subject.CommonName, err)
	}
}

func TestParseCAErrors(t *testing.T) {
	now := time.Now()
	ca, _ := NewCA(now, time.Hour)
	other, _ := NewCA(now, time.Hour)
	leaf, _ := ca.Serving([]string{"x"}, now, time.Hour)
	leafCert, leafKey, _ := PEM(leaf)
	for _, tt := range []struct {
		name      string
		cert, key []byte
		at        time.Time
		want      string
	}{
		{"garbage", []byte("junk"), ca.KeyPEM, now, "not a Peregrine CA: tls: failed to find any PEM data in certificate input"},
		{"key of another CA", ca.CertPEM, other.KeyPEM, now, "not a Peregrine CA: tls: private key does not match public key"},
		{"a leaf, not a CA", leafCert, leafKey, now, `not a Peregrine CA: certificate "peregrine" is not a CA named peregrine-ca`},
		{"expired", ca.CertPEM, ca.KeyPEM, now.Add(2 * time.Hour), "not a Peregrine CA: it expired at "},
	} {
		_, err := ParseCA(tt.cert, tt.key, tt.at)
		if !errors.Is(err, ErrForeignCA) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestRotating: a listener serving from Rotating presents a new
// certificate once two thirds of the old one's life have passed, without
// a restart, and clients that trust the CA accept both.
func TestRotating(t *testing.T) {
	ca, _ := NewCA(time.Now(), time.Hour)
	r, err := NewRotating(ca, []string{"127.0.0.1"}, 4*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Start(ctx)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.ServerTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	serial := func() string {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.pool(), ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	start := time.Now()
	first := serial()
	deadline := time.Now().Add(10 * time.Second)
	for serial() == first {
		if time.Now().After(deadline) {
			t.Fatal("the certificate was not renewed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if renewed := time.Since(start); renewed < 1900*time.Millisecond { // 2/3 of 4s less the second X.509 truncates
		t.Errorf("renewed after %v, before two thirds of its life", renewed)
	}
}
