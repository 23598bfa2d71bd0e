package server

import (
	"embed"
	"io/fs"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/store"
)

// The web UI is static files that read the API from the browser: nothing
// is fetched from elsewhere, and it has no action that writes.
//
//go:embed ui
var uiFiles embed.FS

// uiPolicy keeps the page to its own files and the API.
const uiPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'none'"

// addUI serves the UI at /ui/ on g (which carries the API's guard).
func addUI(r *gin.Engine, g *gin.RouterGroup) {
	files, _ := fs.Sub(uiFiles, "ui") // the directory is embedded above
	static := http.StripPrefix("/ui/", http.FileServerFS(files))
	g.GET("/*path", func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", uiPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		static.ServeHTTP(c.Writer, c.Request)
	})
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/ui/") })
}

// ruleInfo is a loaded rule as GET /api/v1/rules lists it.
type ruleInfo struct {
	Name     string   `json:"name"`
	Desc     string   `json:"desc"`
	Source   string   `json:"source"`
	Priority string   `json:"priority"`
	Tags     []string `json:"tags"`
	Enabled  bool     `json:"enabled"`
	Hits     int      `json:"hits"` // alerts it raised that the history keeps
}

// ruleInfos lists the rules of set, which the service keeps for the UI.
func ruleInfos(set *rules.Set) []ruleInfo {
	out := make([]ruleInfo, 0, len(set.Rules))
	for _, r := range set.Rules {
		out = append(out, ruleInfo{Name: r.Name, Desc: r.Desc, Source: r.Source, Priority: r.Priority.String(),
			Tags: append([]string{}, r.Tags...), Enabled: r.Enabled})
	}
	return out
}

// listRules answers GET /api/v1/rules: {"items": [RULE...]}, the loaded
// rules in their order, with their hits.
func (s *Service) listRules(c *gin.Context) {
	hits, err := s.store.RuleHits(c.Request.Context())
	items := slices.Clone(s.rules)
	for i := range items {
		items[i].Hits = hits[items[i].Name]
	}
	s.answer(c, gin.H{"items": items}, err)
}

// alertStats answers GET /api/v1/stats: the alerts the filters select,
// counted by step (query parameter step, a Go duration) and priority,
// and by rule.
func (s *Service) alertStats(c *gin.Context) {
	v := c.Request.URL.Query()
	q, err := store.ParseQuery(v)
	var step time.Duration
	if err == nil {
		step, err = store.ParseStep(v, q)
	}
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	st, err := s.store.Stats(c.Request.Context(), q, step)
	s.answer(c, st, err)
}
