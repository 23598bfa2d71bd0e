package output

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/peregrine-sec/peregrine/certs"
	"k8s.io/apimachinery/pkg/util/wait"
)

// httpConfig is http_output.
type httpConfig struct {
	URL        string
	UserAgent  string
	Insecure   bool   // skip server certificate verification
	CACert     string // PEM file of CAs to trust
	MTLS       bool
	ClientCert string
	ClientKey  string
	JSON       bool // Content-Type application/json, else text/plain
	Retries    int  // attempts after the first, with exponential backoff
	Backoff    time.Duration
	Timeout    time.Duration
}

// httpSink posts each alert to a URL (http_output), reusing connections.
type httpSink struct {
	cfg    httpConfig
	client *http.Client
}

// newHTTP builds the sink and its TLS configuration.
func newHTTP(cfg httpConfig) (*httpSink, error) {
	certFile, keyFile := "", ""
	if cfg.MTLS {
		certFile, keyFile = cfg.ClientCert, cfg.ClientKey
	}
	tlsCfg, err := certs.ClientTLS(cfg.CACert, certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("http output %w", err)
	}
	tlsCfg.InsecureSkipVerify = cfg.Insecure //nolint:gosec // opt-in, as in Falco
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "peregrine"
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}
	return &httpSink{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}}, nil
}

// Name implements Sink.
func (s *httpSink) Name() string { return "http" }

// Send implements Sink: it retries failed posts (network errors, 5xx and
// 429) with exponential backoff, and returns the last post's error.
func (s *httpSink) Send(ctx context.Context, line []byte, _ *Alert) error {
	var err error
	b := wait.Backoff{Duration: s.cfg.Backoff, Factor: 2, Steps: s.cfg.Retries + 1}
	_ = wait.ExponentialBackoffWithContext(ctx, b, func(ctx context.Context) (bool, error) {
		var retry bool
		retry, err = s.post(ctx, line)
		return err == nil || !retry, nil
	})
	return err
}

func (s *httpSink) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("http output: %w", err)
	}
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set("Content-Type", "text/plain")
	if s.cfg.JSON {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("http output: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
	if resp.StatusCode >= 300 {
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
			fmt.Errorf("http output: %s answered %s", s.cfg.URL, resp.Status)
	}
	return false, nil
}

// Close implements Sink.
func (s *httpSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
