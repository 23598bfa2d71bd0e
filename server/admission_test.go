package server

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func (ts *testServer) admissionClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.admissionCA}}}
}

const privilegedReview = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-7",` +
	`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
	`"name":"p","namespace":"shop","operation":"CREATE","userInfo":{"username":"alice","groups":["devs"]},` +
	`"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx:1.27",` +
	`"securityContext":{"privileged":true},"resources":{"limits":{"cpu":"1"}}}]}}}}`

func TestAdmissionEndpoint(t *testing.T) {
	ts := startServer(t, "admission.max_body_bytes=2048")
	c := ts.admissionClient()
	tests := []struct {
		name, ctype, body string
		code              int
		msg               string
	}{
		{"wrong type", "text/plain", privilegedReview, 415, `{"error":"content type must be application/json"}`},
		{"too big", "application/json", privilegedReview + strings.Repeat(" ", 3000), 413, `{"error":"body larger than 2048 bytes (admission.max_body_bytes)"}`},
		{"malformed", "application/json", `{"apiVersion":`, 400, `{"error":"malformed AdmissionReview: unexpected end of JSON input"}`},
		{"v1beta1", "application/json", strings.Replace(privilegedReview, "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1), 400,
			`{"error":"unsupported review \"admission.k8s.io/v1beta1\" \"AdmissionReview\": want admission.k8s.io/v1 AdmissionReview"}`},
	}
	for _, tt := range tests {
		code, body, _ := post(t, c, ts.admissionURL, tt.ctype, "", []byte(tt.body))
		if code != tt.code || body != tt.msg {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, body, tt.code, tt.msg)
		}
	}
	code, body, _ := post(t, c, ts.admissionURL, "application/json", "", []byte(privilegedReview))
	var rev struct {
		APIVersion, Kind string
		Response         struct {
			UID     string
			Allowed bool
			Status  struct {
				Code    int
				Message string
			}
			AuditAnnotations map[string]string
		}
	}
	if err := json.Unmarshal([]byte(body), &rev); err != nil || code != 200 {
		t.Fatalf("%d %s: %v", code, body, err)
	}
	r := rev.Response
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" || r.UID != "u-7" || r.Allowed ||
		r.Status.Code != 403 || !strings.HasPrefix(r.Status.Message, "denied by Peregrine: Deny privileged container: ") ||
		len(r.AuditAnnotations["request-id"]) != 24 {
		t.Errorf("response %s", body)
	}
	ts.stop()
	if !strings.Contains(ts.stdout.String(), `"rule":"Deny privileged container"`) || !strings.Contains(ts.stdout.String(), `"adm.verdict":"deny"`) {
		t.Errorf("no alert for the denial:\n%s", ts.stdout.String())
	}
}
