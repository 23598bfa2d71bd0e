package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Lookup resolves a host name to its addresses (net.Resolver.LookupNetIP
// with "ip").
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

// SystemLookup resolves with the system's resolver.
func SystemLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// Names resolves the domain names that rules compare fd.*ip.name fields
// with (fd.sip.name = kubernetes.default.svc.cluster.local), as Falco's
// DNS manager does: a check holds when the name resolves to the address.
// Names are resolved in the background and refreshed; evaluation never
// waits for DNS, and a name not resolved yet matches nothing.
type Names struct {
	lookup  Lookup
	refresh time.Duration
	log     *slog.Logger

	mu    sync.RWMutex
	addrs map[string][]netip.Addr
	added chan struct{} // a new name to resolve now
}

// NewNames returns a resolver that refreshes every name every refresh.
func NewNames(lookup Lookup, refresh time.Duration, log *slog.Logger) *Names {
	return &Names{lookup: lookup, refresh: refresh, log: log, addrs: map[string][]netip.Addr{},
		added: make(chan struct{}, 1)}
}

// Start resolves the names rules use until ctx ends.
func (n *Names) Start(ctx context.Context) {
	tick := time.NewTicker(n.refresh)
	defer tick.Stop()
	for {
		n.resolveAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-n.added:
		}
	}
}

func (n *Names) resolveAll(ctx context.Context) {
	n.mu.RLock()
	names := make([]string, 0, len(n.addrs))
	for name := range n.addrs {
		names = append(names, name)
	}
	n.mu.RUnlock()
	for _, name := range names {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := n.lookup(lctx, name)
		cancel()
		if err != nil {
			n.log.Debug("resolve rule domain", "name", name, "err", err)
			continue // keep what it resolved to before
		}
		for i := range addrs {
			addrs[i] = addrs[i].Unmap()
		}
		n.mu.Lock()
		n.addrs[name] = addrs
		n.mu.Unlock()
	}
}

// watch adds names to resolve.
func (n *Names) watch(names []string) {
	n.mu.Lock()
	for _, name := range names {
		if _, ok := n.addrs[name]; !ok {
			n.addrs[name] = nil
		}
	}
	n.mu.Unlock()
	select {
	case n.added <- struct{}{}:
	default:
	}
}

// resolvesTo reports whether name resolved to a.
func (n *Names) resolvesTo(name string, a netip.Addr) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, b := range n.addrs[name] {
		if a.Unmap() == b {
			return true
		}
	}
	return false
}

// nameAccessor is fd.<end>.name: never a value of its own (outputs show
// <NA>, as Falco's do), compared by resolving.
func (n *Names) nameAccessor(end func(*FD) netip.Addr) acc {
	a := str(func(*Event) (string, bool) { return "", false })
	a.Compare = func(op string, vals []string) (func(*Event) bool, error) {
		n.watch(vals)
		any := func(e *Event) bool {
			if e.FD == nil || !isNet(e.FD) {
				return false
			}
			ip := end(e.FD)
			for _, v := range vals {
				if n.resolvesTo(v, ip) {
					return true
				}
			}
			return false
		}
		switch op {
		case "=", "==", "in":
			return any, nil
		case "!=":
			return func(e *Event) bool { return e.FD != nil && isNet(e.FD) && !any(e) }, nil
		}
		return nil, fmt.Errorf("fd.*ip.name filter only supports '=' and '!=' operators")
	}
	return a
}

// nameFields are the fields Names extracts, by the address they resolve.
var nameFields = map[string]func(*FD) netip.Addr{
	"fd.sip.name": serverIP,
	"fd.cip.name": clientIP,
	"fd.lip.name": func(d *FD) netip.Addr { return d.LocalIP },
	"fd.rip.name": func(d *FD) netip.Addr { return d.RemoteIP },
}
