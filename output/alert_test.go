package output

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

func testAlert() *Alert {
	return &Alert{
		Time:         time.Date(2026, 11, 28, 13, 41, 4, 1200, time.FixedZone("CET", 3600)),
		Rule:         "Shell in container",
		Priority:     rules.Warning,
		Source:       "syscall",
		Hostname:     "node-1",
		Message:      "shell=bash k8s_user=<NA>",
		OutputFields: map[string]any{"proc.name": "bash", "k8s.exec.user": nil, "proc.tty": int64(34816)},
		Tags:         []string{"container", "shell"},
	}
}

func TestAlertForms(t *testing.T) {
	a := testAlert()
	tests := []struct {
		name string
		f    Format
		want string
	}{
		{"json", DefaultFormat(), `{"hostname":"node-1","output":"12:41:04.000001200: Warning shell=bash k8s_user=<NA>",` +
			`"priority":"Warning","rule":"Shell in container","source":"syscall","tags":["container","shell"],` +
			`"time":"2026-11-28T12:41:04.000001200Z","output_fields":{"k8s.exec.user":null,"proc.name":"bash","proc.tty":34816}}` + "\n"},
		{"json minimal", Format{JSON: true}, `{"hostname":"node-1","priority":"Warning","rule":"Shell in container","source":"syscall","time":"2026-11-28T12:41:04.000001200Z"}` + "\n"},
		{"json empty tags", Format{JSON: true, IncludeTags: true, IncludeMessage: true}, `{"hostname":"node-1","message":"shell=bash k8s_user=<NA>","priority":"Warning","rule":"Shell in container","source":"syscall","tags":["container","shell"],"time":"2026-11-28T12:41:04.000001200Z"}` + "\n"},
		{"text", Format{}, "12:41:04.000001200: Warning shell=bash k8s_user=<NA>\n"},
		{"json with id", Format{JSON: true}, `{"hostname":"node-1","priority":"Warning","rule":"Shell in container","source":"syscall","time":"2026-11-28T12:41:04.000001200Z","uuid":"1b4e28ba-2fa1-41d2-883f-0016d3cca427"}` + "\n"},
		{"text iso", Format{TimeFormatISO8601: true}, "2026-11-28T12:41:04.000001200+0000: Warning shell=bash k8s_user=<NA>\n"},
	}
	for _, tt := range tests {
		a.ID = ""
		if strings.HasPrefix(tt.name, "json with id") {
			a.ID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
		}
		if diff := cmp.Diff(tt.want, string(a.Line(tt.f))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	a.Tags = nil
	if got := string(a.JSON(Format{JSON: true, IncludeTags: true})); !strings.Contains(got, `"tags":[]`) {
		t.Errorf("empty tags missing: %s", got)
	}
}
