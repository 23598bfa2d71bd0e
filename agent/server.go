package agent

import (
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/peregrine-sec/peregrine/stream"
)

// serverLink is the agent's stream to the service (agent --server): the
// alerts' extra output, and where exec sessions and pod metadata come from.
type serverLink struct {
	client *stream.Client
	pods   *streamedPods
}

// connect prepares the stream to the configured service; nil when the
// agent runs standalone.
func connect(o Options, sessions *session.Registry) (*serverLink, error) {
	s := o.Config.Server
	if s.URL == "" {
		return nil, nil
	}
	tlsCfg, token, err := clientCredentials(s.CAFile, s.CertFile, s.KeyFile, s.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	node := s.NodeName // the command resolves $NODE_NAME into it
	if node == "" {
		node = o.Hostname
	}
	l := &serverLink{pods: &streamedPods{byID: map[string]runtime.PodInfo{}}}
	opts := stream.ClientOptions{URL: s.URL, Node: node, Hostname: o.Hostname, TLS: tlsCfg, Token: token, Buffer: s.Buffer,
		Log: o.Log, OnPods: l.pods.set}
	if sessions != nil {
		opts.OnAnnounce, opts.OnConfirm = sessions.Announce, sessions.Confirm
	}
	l.client = stream.NewClient(opts, o.Registry)
	if sessions != nil {
		sessions.ReportBindings(l.client.Bind) // the service keeps each session's binding
	}
	return l, nil
}

// clientCredentials loads the service's CA and the agent's certificate,
// and reads its token (at every connection), whichever are configured.
func clientCredentials(caFile, certFile, keyFile, tokenFile string) (*tls.Config, func() (string, error), error) {
	cfg, err := certs.ClientTLS(caFile, certFile, keyFile)
	if err != nil {
		return nil, nil, err
	}
	if tokenFile == "" {
		return cfg, nil, nil
	}
	token := func() (string, error) {
		b, err := os.ReadFile(tokenFile)
		return strings.TrimSpace(string(b)), err
	}
	if _, err := token(); err != nil {
		return nil, nil, fmt.Errorf("token: %w", err)
	}
	return cfg, token, nil
}

// streamedPods are the node's containers as the service last sent them.
type streamedPods struct {
	mu   sync.RWMutex
	byID map[string]runtime.PodInfo
}

func (p *streamedPods) set(cs []runtime.PodInfo) {
	m := make(map[string]runtime.PodInfo, len(cs))
	for _, c := range cs {
		m[c.ID] = c
	}
	p.mu.Lock()
	p.byID = m
	p.mu.Unlock()
}

// Lookup implements runtime.Pods.
func (p *streamedPods) Lookup(id string) (runtime.PodInfo, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	info, ok := p.byID[id]
	return info, ok
}
