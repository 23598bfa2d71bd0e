package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/peregrine-sec/peregrine/store"
)

// OpenStore opens the alert history the configuration asks for (nil when
// store.enabled is off). It is an output sink: pass it to output.Build,
// and run it (Start) outside the outputs, so that it takes their last
// alerts when they stop.
func OpenStore(c *config.Config, log *slog.Logger, reg prometheus.Registerer) (*store.Store, error) {
	if !c.Store.Enabled {
		return nil, nil
	}
	return store.Open(store.Options{Path: c.Store.Path, URL: c.Store.URL, SessionWindow: c.ExecSessions.Window, Retention: c.Store.Retention, MaxSize: c.Store.MaxSize,
		Format: output.FormatOf(c), Log: log, Registry: reg})
}

// addHistoryAPI serves the alert history, and the web UI that reads it,
// on the web listener. With an authentication method configured
// (webserver.client_ca_file or tokens_file) every request must pass it,
// and beyond loopback TLS is required too; without one, they answer on
// loopback only. Elsewhere the store still keeps every alert, and the API
// says why it is off.
func (s *Service) addHistoryAPI(r *gin.Engine, w config.Webserver, tlsOn bool, auth *authenticator) {
	if s.store == nil {
		return
	}
	api, ui := r.Group("/api/v1"), r.Group("/ui")
	guard, authenticates := s.historyGuard(w, tlsOn, auth)
	if guard != nil {
		api.Use(guard)
	}
	// The page itself holds no data: where the API authenticates, the
	// page loads, and asks for the token its API calls need (a browser
	// with a client certificate presents it to both).
	if guard != nil && !authenticates {
		ui.Use(guard)
	}
	api.GET("/alerts", s.listAlerts)
	api.GET("/stream", s.streamAlerts)
	api.GET("/stats", s.alertStats)
	api.GET("/rules", s.listRules)
	api.GET("/sessions", s.listSessions)
	api.GET("/sessions/:id", s.getSession)
	api.GET("/sessions/:id/binding", s.getBinding)
	addUI(r, ui)
}

// historyGuard is what stands before the API: nil when it answers
// everyone (on loopback without authentication configured); and whether
// it authenticates. Beyond loopback without TLS and a credential method,
// it answers callers on loopback only (in a pod, kubectl port-forward
// arrives there: who may read the history is who may port-forward into
// Peregrine's namespace), and the UI likewise.
func (s *Service) historyGuard(w config.Webserver, tlsOn bool, auth *authenticator) (gin.HandlerFunc, bool) {
	loopback := onLoopback(w.ListenAddress)
	switch {
	case auth.enabled() && (tlsOn || loopback):
		return func(c *gin.Context) {
			if err := auth.check(c.Request); err != nil {
				c.AbortWithStatusJSON(authStatus(err), gin.H{"error": err.Error()})
			}
		}, true
	case !loopback:
		why := "the alert API answers callers on loopback (kubectl port-forward), or with TLS and authentication " +
			"(webserver.cert_file, and client_ca_file or tokens_file)"
		s.log.Info("the alert API answers loopback callers only", "address", w.ListenAddress)
		return func(c *gin.Context) {
			if !fromLoopback(c.Request) {
				c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": why})
			}
		}, false
	}
	return nil, false
}

// fromLoopback reports whether a request comes from this host (or pod)
// itself: by the connection's address, never by a header.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	return err == nil && onLoopback(host)
}

// listSessions answers GET /api/v1/sessions: {"items": [SESSION...], "next": CURSOR}.
func (s *Service) listSessions(c *gin.Context) {
	q, err := store.ParseSessionQuery(c.Request.URL.Query())
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	page, err := s.store.Sessions(c.Request.Context(), q)
	s.answer(c, page, err)
}

// getSession answers GET /api/v1/sessions/{id}: {"session": SESSION,
// "alerts": [ALERT...]}, the alerts oldest first.
func (s *Service) getSession(c *gin.Context) {
	x, err := s.store.SessionByID(c.Request.Context(), c.Param("id"))
	s.answer(c, x, err)
}

// answer writes v; or a 404 for a session the store does not hold; or
// the store's failure (logged; the client gets no detail of it).
func (s *Service) answer(c *gin.Context, v any, err error) {
	if errors.Is(err, store.ErrNoSession) {
		c.JSON(http.StatusNotFound, gin.H{"error": err.Error()})
		return
	}
	if err != nil {
		s.log.Warn("history query failed", "path", c.Request.URL.Path, "err", err)
		c.JSON(http.StatusInternalServerError, gin.H{"error": "the store could not answer; see the service's log"})
		return
	}
	c.JSON(http.StatusOK, v)
}

// getBinding answers GET /api/v1/sessions/{id}/binding: whether an agent
// bound a process to the session, in which container and when.
func (s *Service) getBinding(c *gin.Context) {
	b, err := s.store.Binding(c.Request.Context(), c.Param("id"))
	s.answer(c, b, err)
}

// recordBinding keeps a binding an agent reported, in the history, with
// its session (which another replica may have announced). An announced
// exec was admitted; one announced late, by its audit event alone, had
// no webhook's verdict.
func (s *Service) recordBinding(b session.Binding) {
	if s.store == nil {
		return
	}
	verdict := store.Allowed
	if b.Announcement.Late {
		verdict = store.Unknown
	}
	s.store.BindSession(storedSession(b.Announcement, verdict), b.ContainerID, b.Time, b.Ambiguous)
}

// storedSession is an announced (or refused) exec as the history keeps it.
func storedSession(a session.Announcement, verdict string) store.Session {
	return store.Session{ID: a.ID, User: a.User, Groups: a.Groups, Namespace: a.Namespace, Pod: a.Pod,
		Container: a.Container, Command: a.Command, TTY: a.TTY, Time: a.Time, AuditID: a.AuditID, Verdict: verdict}
}

// streamHeartbeat is how often a quiet stream sends a comment, so that
// proxies keep it open and a gone client is noticed.
const streamHeartbeat = 15 * time.Second

// streamAlerts answers GET /api/v1/stream: server-sent events, one
// "alert" event (its data the alert's JSON) per new alert the filters
// select, until the client goes.
func (s *Service) streamAlerts(c *gin.Context) {
	q, err := store.ParseQuery(c.Request.URL.Query())
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	sub := s.store.Subscribe(q)
	defer sub.Close()
	w, rc := c.Writer, http.NewResponseController(c.Writer)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-c.Request.Context().Done():
			return
		case <-s.streamsEnd:
			return
		case a := <-sub.C:
			_, err = fmt.Fprintf(w, "event: alert\ndata: %s\n\n", a)
		case <-beat.C:
			_, err = io.WriteString(w, ": still here\n\n")
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}

// listAlerts answers GET /api/v1/alerts: {"items": [ALERT...], "next": CURSOR}.
func (s *Service) listAlerts(c *gin.Context) {
	q, err := store.ParseQuery(c.Request.URL.Query())
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	page, err := s.store.Alerts(c.Request.Context(), q)
	s.answer(c, page, err)
}
