package server

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/lifecycle"
	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/stream"
)

// addAgents opens the listener node agents stream to: their alerts are
// published here, exec sessions and pod metadata go to them.
func (s *Service) addAgents(c *config.Config, cl cluster, managed *certs.Rotating, o Options) (*stream.Hub, error) {
	a := c.Agents
	addr := joinHostPort(a.ListenAddress, a.ListenPort)
	tlsCfg, auth, err := secured("agents", addr, a.ListenerAuth, managed)
	if err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	if auth.review, err = newAgentTokens(a, cl, o.Registry, o.Log); err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	var src stream.PodSource
	if s.pods != nil {
		src = podSource{s.pods}
	}
	hub := stream.NewHub(stream.HubOptions{Publish: s.outputs.Deliver, Bind: s.recordBinding, Pods: src, Replica: s.replica, Peers: a.Peers,
		Log: o.Log}, o.Registry)
	if err := s.watchReplicas(a, cl, hub, o); err != nil {
		return nil, err
	}
	ln, err := listen(addr, tlsCfg)
	if err != nil {
		return nil, err
	}
	r := newRouter()
	r.POST(a.Endpoint, func(c *gin.Context) {
		// The agent's request body never ends: without full duplex a
		// refusal would wait to drain it before answering, and hang.
		_ = http.NewResponseController(c.Writer).EnableFullDuplex()
		node, err := auth.identify(c.Request)
		if err != nil {
			consumeHello(c)
			c.AbortWithStatusJSON(authStatus(err), gin.H{"error": err.Error()})
			return
		}
		hub.ServeHTTP(c.Writer, c.Request.WithContext(stream.WithNode(c.Request.Context(), node)))
	})
	s.agents = newEndpoint("agents", ln, r)
	s.agents.stopping = hub.Close // streams end; agents keep what was not acknowledged
	return hub, nil
}

// watchReplicas, with agents.peer_service, keeps the hub's peers the
// static ones plus the other ready replicas of that Service.
func (s *Service) watchReplicas(a config.Agents, cl cluster, hub *stream.Hub, o Options) error {
	if a.PeerService == "" {
		return nil
	}
	client, err := cl.need("agents.peer_service")
	if err != nil {
		return err
	}
	ns, name, ok := strings.Cut(a.PeerService, "/")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("agents.peer_service %q: want namespace/name", a.PeerService)
	}
	r := &kube.Replicas{Client: client, Namespace: ns, Service: name, Self: o.Hostname, Port: a.ListenPort, Path: a.Endpoint,
		Log: o.Log, OnChange: func(urls []string) { hub.SetPeers(append(slices.Clone(a.Peers), urls...)) }}
	s.background = append(s.background, lifecycle.Func(r.Start))
	return nil
}

// podSource shows the pod watch to the agents' streams.
type podSource struct{ pods *kube.Pods }

func (p podSource) NodeVersion(node string) uint64 { return p.pods.NodeVersion(node) }

func (p podSource) Node(node string) []runtime.PodInfo {
	var out []runtime.PodInfo
	for _, c := range p.pods.Node(node) {
		out = append(out, PodInfo(c))
	}
	return out
}

// PodInfo is a watched container as syscall events show it.
func PodInfo(c *kube.Container) runtime.PodInfo {
	return runtime.PodInfo{ID: c.ID, Name: c.Name, Image: c.Image, Namespace: c.Namespace, Pod: c.Pod, PodUID: c.PodUID,
		PodIP: c.PodIP, Labels: c.Labels}
}

// consumeHello reads what a refused agent sent first, for at most a
// second, so that closing the connection does not reset it before the
// agent has read why it was refused (unread data at close makes a reset).
func consumeHello(c *gin.Context) {
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Now().Add(time.Second))
	_, _, _ = stream.ReadFrame(bufio.NewReader(io.LimitReader(c.Request.Body, 64<<10)))
}
