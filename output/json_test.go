package output

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

// referenceAlert is the alert JSON as encoding/json writes it: what
// AppendJSON must reproduce byte for byte.
type referenceAlert struct {
	Hostname     string          `json:"hostname"`
	Output       string          `json:"output,omitempty"`
	Message      string          `json:"message,omitempty"`
	Priority     string          `json:"priority"`
	Rule         string          `json:"rule"`
	Source       string          `json:"source"`
	Tags         *[]string       `json:"tags,omitempty"`
	Time         string          `json:"time"`
	OutputFields *map[string]any `json:"output_fields,omitempty"`
	UUID         string          `json:"uuid,omitempty"`
}

func reference(a *Alert, f Format) string {
	j := referenceAlert{Hostname: a.Hostname, Priority: a.Priority.String(), Rule: a.Rule, Source: a.Source,
		Time: a.Time.UTC().Format(TimeLayout), UUID: a.ID}
	if f.IncludeOutput {
		j.Output = a.Text(f)
	}
	if f.IncludeMessage {
		j.Message = a.Message
	}
	if f.IncludeTags {
		tags := a.Tags
		if tags == nil {
			tags = []string{}
		}
		j.Tags = &tags
	}
	if f.IncludeOutputFields {
		fields := a.OutputFields
		if fields == nil {
			fields = map[string]any{}
		}
		j.OutputFields = &fields
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(j)
	return string(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}))
}

// fuzzAlert is an alert whose every text is s, with values of each kind
// rules produce.
func fuzzAlert(s string, n int64) *Alert {
	return &Alert{ID: s, Time: time.Unix(0, n), Rule: s, Priority: rules.Priority(uint64(n) % 8), Source: s, Hostname: s,
		Message: s, Tags: []string{s, "t"},
		OutputFields: map[string]any{s: s, "n": n, "b": n%2 == 0, "none": nil, "num": json.Number("1796219636697944482"),
			"i": int(n % 1000), "f": 1.5}}
}

// TestJSONAsEncodingJSON: AppendJSON writes what encoding/json writes,
// for every format and for text that needs escaping.
func TestJSONAsEncodingJSON(t *testing.T) {
	formats := []Format{DefaultFormat(), {JSON: true}, {JSON: true, IncludeMessage: true, IncludeTags: true, TimeFormatISO8601: true}}
	texts := []string{"", "plain", `quote " backslash \ slash /`, "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f", "<NA> & <script>",
		"ünïcødé 日本", "bad \xff utf8 \xc3", "line\u2028sep\u2029", "emoji 🦅"}
	for _, f := range formats {
		for _, s := range texts {
			a := fuzzAlert(s, 1796219636697944482)
			if diff := cmp.Diff(reference(a, f), string(a.JSON(f))); diff != "" {
				t.Errorf("%q %+v (-encoding/json +ours):\n%s", s, f, diff)
			}
		}
	}
	a := testAlert()
	a.Tags, a.OutputFields = nil, nil
	if diff := cmp.Diff(reference(a, DefaultFormat()), string(a.JSON(DefaultFormat()))); diff != "" {
		t.Errorf("no tags, no fields (-encoding/json +ours):\n%s", diff)
	}
}

func FuzzJSON(f *testing.F) {
	f.Add("plain", int64(0))
	f.Add("a\"b\\c\n\x00\xff\u2028", int64(-1))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		a := fuzzAlert(s, n)
		if want, got := reference(a, DefaultFormat()), string(a.JSON(DefaultFormat())); want != got {
			t.Errorf("encoding/json:\n%s\nours:\n%s", want, got)
		}
	})
}

func BenchmarkJSON(b *testing.B) {
	a := testAlert()
	a.ID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.JSON(DefaultFormat())
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reference(a, DefaultFormat())
		}
	})
}
