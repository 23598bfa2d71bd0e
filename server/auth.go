package server

import (
	"bufio"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/config"
)

// authenticator accepts the apiserver by client certificate (verified by
// the TLS layer against the configured CA, and when names are set, with
// one of those common names) or by bearer token.
type authenticator struct {
	tokens  [][]byte
	certs   bool
	names   []string
	section string       // the configuration section, for messages
	review  *agentTokens // agents' ServiceAccount tokens, checked by TokenReview; nil elsewhere
}

var (
	errUnauthenticated = errors.New("authentication required: a client certificate signed by the configured CA or a valid bearer token")
	errForbidden       = errors.New("client certificate accepted, but its common name is not in")
)

func (a *authenticator) enabled() bool { return a.certs || len(a.tokens) > 0 || a.review != nil }

// check authenticates r; with no method configured every request passes
// (the listener is then loopback-only).
func (a *authenticator) check(r *http.Request) error {
	_, err := a.identify(r)
	return err
}

// identify authenticates r and returns the node its credential is bound
// to: "" for certificates and static tokens, which name none.
func (a *authenticator) identify(r *http.Request) (string, error) {
	if !a.enabled() {
		return "", nil
	}
	if a.certs && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
		if len(a.names) > 0 && !slices.Contains(a.names, cn) {
			return "", fmt.Errorf("%w %s.allowed_client_names", errForbidden, a.section)
		}
		return "", nil
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", errUnauthenticated
	}
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(tok), t) == 1 {
			return "", nil
		}
	}
	if a.review != nil {
		return a.review.node(r)
	}
	return "", errUnauthenticated
}

// newAuthenticator accepts what la configures: client certificates of its
// CA (with one of its names, when set) and the tokens of its file.
func newAuthenticator(section string, la config.ListenerAuth) (*authenticator, error) {
	auth := &authenticator{certs: la.ClientCAFile != "", names: la.AllowedClientNames, section: section}
	if la.TokensFile != "" {
		var err error
		if auth.tokens, err = readTokens(la.TokensFile); err != nil {
			return nil, err
		}
	}
	return auth, nil
}

// secured loads a listener's TLS configuration and authenticator, and
// refuses a listener that would expose an unauthenticated endpoint beyond
// loopback.
// Without a cert_file, a listener serves the managed certificate when
// there is one, and accepts client certificates its CA signed.
func secured(section, addr string, la config.ListenerAuth, managed *certs.Rotating) (*tls.Config, *authenticator, error) {
	tlsCfg, err := certs.ServerTLS(la.CertFile, la.KeyFile, la.ClientCAFile)
	if err != nil {
		return nil, nil, err
	}
	auth, err := newAuthenticator(section, la)
	if err != nil {
		return nil, nil, err
	}
	if la.CertFile == "" && managed != nil {
		tlsCfg, auth.certs = managed.ServerTLS(), true
	}
	if err := checkExposure(section, addr, tlsCfg != nil, auth); err != nil {
		return nil, nil, err
	}
	return tlsCfg, auth, nil
}

// authStatus is the HTTP status of an authentication failure.
func authStatus(err error) int {
	if errors.Is(err, errForbidden) || errors.Is(err, errNotAgent) || errors.Is(err, errNoNode) {
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// readTokens reads one token per line; blank lines and # comments are skipped.
func readTokens(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, []byte(t))
		}
	}
	if len(out) == 0 && sc.Err() == nil {
		return nil, fmt.Errorf("tokens file %s: no token", path)
	}
	return out, sc.Err()
}

// errInsecure is a listener beyond loopback without TLS or without a way
// to authenticate its callers.
var errInsecure = errors.New("refusing to serve on a non-loopback address without TLS and authentication")

// onLoopback reports whether host (a listen address's) is reachable from
// this machine only.
func onLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// checkExposure refuses an unauthenticated or plain-HTTP listener that is
// reachable from the network: secure by default.
func checkExposure(section, addr string, tlsOn bool, auth *authenticator) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if !onLoopback(host) && (!tlsOn || !auth.enabled()) {
		return fmt.Errorf("on %s: %w (set %s.cert_file and key_file, and client_ca_file or tokens_file)", addr, errInsecure, section)
	}
	return nil
}
