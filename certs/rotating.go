package certs

import (
	"context"
	"crypto/tls"
	"log/slog"
	"sync/atomic"
	"time"
)

// Rotating serves a serving certificate signed by a CA and signs the next
// one when two thirds of its validity have passed: listeners pick it up
// at their next handshake, with no restart.
type Rotating struct {
	ca       *CA
	names    []string
	validity time.Duration
	cur      atomic.Pointer[issued]
	log      *slog.Logger
}

// issued is a certificate and when to renew it: two thirds of the way
// from signing to expiry (NotBefore is back-dated for clock skew, so it
// does not say when it was signed).
type issued struct {
	cert    *tls.Certificate
	renewAt time.Time
}

// NewRotating signs the first certificate for names.
func NewRotating(ca *CA, names []string, validity time.Duration, log *slog.Logger) (*Rotating, error) {
	r := &Rotating{ca: ca, names: names, validity: validity, log: log}
	if err := r.renew(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Rotating) renew() error {
	now := time.Now()
	c, err := r.ca.Serving(r.names, now, r.validity)
	if err != nil {
		return err
	}
	r.cur.Store(&issued{cert: c, renewAt: now.Add(c.Leaf.NotAfter.Sub(now) * 2 / 3)})
	return nil
}

// current is the certificate served now.
func (r *Rotating) current() *tls.Certificate { return r.cur.Load().cert }

// CA is the CA that signs the certificates.
func (r *Rotating) CA() *CA { return r.ca }

// ServerTLS is a server configuration that serves the current certificate
// and verifies client certificates the CA signed, when a client gives one
// (token clients give none; the handler decides what it requires).
func (r *Rotating) ServerTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, ClientCAs: r.ca.pool(), ClientAuth: tls.VerifyClientCertIfGiven,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.current(), nil }}
}

// Start renews the certificate when due until ctx ends. A failed renewal
// keeps the current certificate and is tried again a minute later (or at
// a tenth of the validity, when that is sooner).
func (r *Rotating) Start(ctx context.Context) {
	retry := min(time.Minute, r.validity/10)
	for {
		t := time.NewTimer(time.Until(r.cur.Load().renewAt))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := r.renew(); err != nil {
			r.log.Error("renewing the serving certificate (keeping the current one)", "err", err)
			if !sleep(ctx, retry) {
				return
			}
			continue
		}
		r.log.Info("serving certificate renewed", "not_after", r.current().Leaf.NotAfter.Format(time.RFC3339))
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
