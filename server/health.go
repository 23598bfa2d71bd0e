package server

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// webRouter serves /healthz (the process is up), /readyz (rules loaded,
// listeners up, not shutting down) and /metrics.
func (s *servers) webRouter(healthz string, reg *prometheus.Registry) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
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
