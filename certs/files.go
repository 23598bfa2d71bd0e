package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// LoadPool reads the PEM certificates of a CA file.
func LoadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate found", file)
	}
	return pool, nil
}

// ServerTLS is a listener's TLS configuration from files: its certificate
// (nil, nil without certFile) and, when clientCAFile is set, the CA that
// verifies client certificates. Certificates are optional at the
// handshake so that token clients can connect: the handler refuses a
// request that brings neither.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		if cfg.ClientCAs, err = LoadPool(clientCAFile); err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// ClientTLS is a client's TLS configuration: the CA that verifies the
// server (caFile; empty: the system's roots) and the client certificate
// that authenticates it (certFile and keyFile; empty: none).
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		var err error
		if cfg.RootCAs, err = LoadPool(caFile); err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
