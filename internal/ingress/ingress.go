package ingress

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// JSONPost is an endpoint's intake of JSON posts.
type JSONPost struct {
	maxBody  int64
	limitKey string // the configuration key that sets maxBody, for the message
	requests *prometheus.CounterVec
}

// NewJSONPost takes bodies up to maxBody bytes (set by limitKey) and
// counts requests in a counter named name, by status code.
func NewJSONPost(name, help string, maxBody int64, limitKey string, reg prometheus.Registerer) *JSONPost {
	p := &JSONPost{maxBody: maxBody, limitKey: limitKey,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"code"})}
	reg.MustRegister(p.requests)
	return p
}

// Read returns the body of a JSON post. When it returns false it has
// answered the request already: 415 for another content type, 413 past
// the limit, 400 for a body that could not be read.
func (p *JSONPost) Read(c *gin.Context) ([]byte, bool) { return p.ReadInto(c, nil) }

// ReadInto is Read into buf's memory, which it grows as needed: a caller
// that reads many bodies reuses one buffer.
func (p *JSONPost) ReadInto(c *gin.Context, buf []byte) ([]byte, bool) {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		p.Fail(c, http.StatusUnsupportedMediaType, "content type must be application/json")
		return nil, false
	}
	body, err := readAll(http.MaxBytesReader(c.Writer, c.Request.Body, p.maxBody), buf[:0], min(c.Request.ContentLength, p.maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		p.Fail(c, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(p.maxBody, 10)+" bytes ("+p.limitKey+")")
		return nil, false
	case err != nil:
		p.Fail(c, http.StatusBadRequest, "reading body: "+err.Error())
		return nil, false
	}
	return body, true
}

// readAll appends what r holds to buf, growing it once to size (the
// announced length, when known) and then as needed.
func readAll(r io.Reader, buf []byte, size int64) ([]byte, error) {
	if size > 0 {
		buf = slices.Grow(buf, int(size)+1) // +1: the read that sees EOF
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(512, cap(buf)))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// Fail answers code with {"error": msg}, and counts it.
func (p *JSONPost) Fail(c *gin.Context, code int, msg string) {
	p.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	c.AbortWithStatusJSON(code, gin.H{"error": msg})
}

// OK answers 200 with obj as JSON, and counts it.
func (p *JSONPost) OK(c *gin.Context, obj any) {
	p.requests.WithLabelValues("200").Inc()
	c.JSON(http.StatusOK, obj)
}
