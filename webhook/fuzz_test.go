package webhook

import (
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// FuzzReview feeds arbitrary bodies through decoding, request building
// and a decision with the default rules: nothing may panic, and every
// failure says why. Its seeds (testdata/fuzz/FuzzReview) are recorded
// reviews: exec, pod creation, kubectl debug's ephemeral containers.
func FuzzReview(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CONNECT",` +
		`"resource":{"version":"v1","resource":"pods"},"subResource":"exec","namespace":"production",` +
		`"object":{"command":["sh"],"container":"c","stdin":true,"ports":[80]}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"UPDATE",` +
		`"resource":{"version":"v1","resource":"pods"},"object":{"spec":{"containers":[{"image":"a@sha256:1"}],"volumes":[{"hostPath":{"path":"/"}}]}},"oldObject":{"x":1}}}`))
	set, err := inspect.LoadValid(nil)
	if err != nil {
		f.Fatal(err)
	}
	d, err := NewDecider(set, Policy{Mode: Enforce}, rules.Debug, "h")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rev, err := DecodeReview(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a reason")
			}
			return
		}
		req, err := NewRequest(rev.Request, time.Unix(0, 0))
		if err != nil {
			return
		}
		dec := d.Decide(req, time.Unix(0, 0))
		if !dec.Allowed && dec.Message == "" {
			t.Fatal("a denial without a message")
		}
		Response(rev, dec)
	})
}
