package ingress

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestJSONPost(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	p := NewJSONPost("requests_total", "help", 8, "x.max_body_bytes", prometheus.NewRegistry())
	r := gin.New()
	r.POST("/", func(c *gin.Context) {
		if body, ok := p.Read(c); ok {
			p.OK(c, gin.H{"got": string(body)})
		}
	})
	type reply struct {
		Code int
		Body string
	}
	for _, tt := range []struct {
		name, ctype, body string
		want              reply
	}{
		{"json", "application/json", `"short"`, reply{200, `{"got":"\"short\""}`}},
		{"json with parameters", "application/json; charset=utf-8", `1`, reply{200, `{"got":"1"}`}},
		{"another type", "text/plain", `1`, reply{415, `{"error":"content type must be application/json"}`}},
		{"no type", "", `1`, reply{415, `{"error":"content type must be application/json"}`}},
		{"too large", "application/json", `"longer than 8"`, reply{413, `{"error":"body larger than 8 bytes (x.max_body_bytes)"}`}},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
		if tt.ctype != "" {
			req.Header.Set("Content-Type", tt.ctype)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if diff := cmp.Diff(tt.want, reply{w.Code, w.Body.String()}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	for code, want := range map[string]float64{"200": 2, "415": 2, "413": 1} {
		if got := testutil.ToFloat64(p.requests.WithLabelValues(code)); got != want {
			t.Errorf("requests{code=%s} = %v, want %v", code, got, want)
		}
	}
}
