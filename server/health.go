package server

import (
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/config"
)

// webRouter serves /healthz (the process is up), /readyz (rules loaded,
// listeners up, not shutting down) and /metrics.
func (s *Service) webRouter(healthz string, reg *prometheus.Registry) *gin.Engine {
	r := newRouter()
	ok := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
	r.GET(healthz, ok)
	if healthz != "/healthz" {
		r.GET("/healthz", ok)
	}
	r.GET("/readyz", func(c *gin.Context) {
		if !s.ready.Load() {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not ready"})
			return
		}
		ok(c)
	})
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	return r
}

// addWeb binds the web listener: health, readiness and metrics, and the
// alert history API.
func (s *Service) addWeb(c *config.Config, reg *prometheus.Registry) error {
	w := c.Webserver
	tlsCfg, auth, err := webTLS(w)
	if err != nil {
		return err
	}
	ln, err := listen(joinHostPort(w.ListenAddress, w.ListenPort), tlsCfg)
	if err != nil {
		return err
	}
	r := s.webRouter(w.K8sHealthzEndpoint, reg)
	s.addHistoryAPI(r, w, tlsCfg != nil, auth)
	s.web = newEndpoint("webserver", ln, r)
	s.streamsEnd = make(chan struct{})
	s.web.stopping = func() { close(s.streamsEnd) } // a stream would hold the graceful shutdown
	return nil
}

// webTLS is the web listener's TLS (cert_file and key_file, else Falco's
// ssl_certificate; none when neither) and how it authenticates the API's
// clients. Client certificates are verified when given, never required:
// probes and scrapers present none.
func webTLS(w config.Webserver) (*tls.Config, *authenticator, error) {
	cert, key := w.CertFile, w.KeyFile
	if cert == "" && w.SSLEnabled {
		cert, key = w.SSLCertificate, w.SSLCertificate
	}
	var tlsCfg *tls.Config
	if cert != "" {
		var err error
		if tlsCfg, err = certs.ServerTLS(cert, key, w.ClientCAFile); err != nil {
			return nil, nil, fmt.Errorf("webserver: %w", err)
		}
	}
	auth, err := newAuthenticator("webserver", w.ListenerAuth)
	if err != nil {
		return nil, nil, fmt.Errorf("webserver: %w", err)
	}
	auth.certs = auth.certs && tlsCfg != nil // a client certificate comes with TLS only
	return tlsCfg, auth, nil
}
