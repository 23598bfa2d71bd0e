package audit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fastjson"
)

func TestSkim(t *testing.T) {
	type cut struct{ Raw, Req, Resp string }
	tests := []struct {
		name, doc string
		light     string
		top       cut
		items     []cut
	}{
		{name: "an event's bodies are cut out",
			doc:   `{"verb":"create","requestObject":{"a":"}]\"{"},"responseObject":{"b":[1,{"c":"]"}]},"stage":"x"}`,
			light: `{"verb":"create","requestObject":null,"responseObject":null,"stage":"x"}`,
			top: cut{Raw: `{"verb":"create","requestObject":{"a":"}]\"{"},"responseObject":{"b":[1,{"c":"]"}]},"stage":"x"}`,
				Req: `{"a":"}]\"{"}`, Resp: `{"b":[1,{"c":"]"}]}`}},
		{name: "a body that is not an object stays",
			doc:   `{"requestObject":"text","responseObject":[1]}`,
			light: `{"requestObject":"text","responseObject":[1]}`,
			top:   cut{Raw: `{"requestObject":"text","responseObject":[1]}`}},
		{name: "an EventList's items",
			doc:   ` {"kind":"EventList","items":[{"requestObject":{"x":1}}, {"verb":"get"} ]} `,
			light: ` {"kind":"EventList","items":[{"requestObject":null}, {"verb":"get"} ]} `,
			top:   cut{Raw: `{"kind":"EventList","items":[{"requestObject":{"x":1}}, {"verb":"get"} ]}`},
			items: []cut{{Raw: `{"requestObject":{"x":1}}`, Req: `{"x":1}`}, {Raw: `{"verb":"get"}`}}},
		{name: "an array of events",
			doc:   `[{"responseObject":{"y":"\\"}}, 3]`,
			light: `[{"responseObject":null}, 3]`,
			items: []cut{{Raw: `{"responseObject":{"y":"\\"}}`, Resp: `{"y":"\\"}`}, {Raw: `3`}}},
	}
	str := func(b []byte) string { return string(b) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s skimmed
			if !skim(&s, []byte(tt.doc)) {
				t.Fatal("not skimmed")
			}
			got := []cut{{str(s.top.raw), str(s.top.req), str(s.top.resp)}}
			for _, it := range s.items {
				got = append(got, cut{str(it.raw), str(it.req), str(it.resp)})
			}
			if diff := cmp.Diff(append([]cut{tt.top}, tt.items...), got); diff != "" {
				t.Errorf("cut (-want +got):\n%s", diff)
			}
			if string(s.light) != tt.light {
				t.Errorf("light = %s, want %s", s.light, tt.light)
			}
		})
	}
}

// TestSkimRefuses: what skimming cannot walk is parsed whole, so the
// error is fastjson's for the document as given.
func TestSkimRefuses(t *testing.T) {
	for _, doc := range []string{``, `x`, `{"a":1`, `{"requestObject":{"a":[}]}`, `{"requestObject":{"a":"}}`,
		`{"a" 1}`, `{"a":1,}`, `[1 2]`, `{"a":1} x`, `{"requestObject":{]}`} {
		var s skimmed
		if skim(&s, []byte(doc)) {
			t.Errorf("%q skimmed, light %q", doc, s.light)
		}
	}
}

// TestSkipNested checks skipNested against the plainest walk, on values
// with quotes, escapes and brackets in strings and out, at every offset
// of a word.
func TestSkipNested(t *testing.T) {
	pieces := []string{`"a"`, `"\""`, `"\\"`, `"}"`, `"]["`, `{}`, `[]`, `1`, `"x\\\"y"`, `{"k":[1,2,{"q":"\\\\"}]}`}
	n := 0
	for pad := range 9 {
		for _, p := range pieces {
			for _, q := range pieces {
				doc := `{"` + strings.Repeat("p", pad) + `":[` + p + `,` + q + `],"z":` + q + `}  `
				n++
				if got, want := skipNested([]byte(doc), 0), byteByByte([]byte(doc)); got != want {
					t.Errorf("skipNested(%s) = %d, want %d", doc, got, want)
				}
			}
		}
	}
	if n != 900 {
		t.Fatalf("%d cases, want 900", n)
	}
}

// byteByByte is the plainest walk: a byte at a time, with a depth count
// and a stack of expected closers.
func byteByByte(b []byte) int {
	var closers []byte
	inString, escaped := false, false
	for j, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped, inString = c == '\\', c != '"'
		case c == '"':
			inString = true
		case c == '{':
			closers = append(closers, '}')
		case c == '[':
			closers = append(closers, ']')
		case c == '}' || c == ']':
			if len(closers) == 0 || closers[len(closers)-1] != c {
				return -1
			}
			if closers = closers[:len(closers)-1]; len(closers) == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// FuzzSkim: a document skimming accepts decodes to the same events as
// the document parsed whole, bodies included; skipNested agrees with
// the plainest walk.
func FuzzSkim(f *testing.F) {
	f.Add([]byte(`{"kind":"EventList","items":[{"requestObject":{"x":"\"}"}}]}`))
	f.Add([]byte(`{"requestObject":{"a":[1,{"b":"]"}]},"responseObject":{}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 0 && (doc[0] == '{' || doc[0] == '[') {
			if got, want := skipNested(doc, 0), byteByByte(doc); got != want {
				t.Fatalf("skipNested = %d, byte by byte %d", got, want)
			}
		}
		var s skimmed
		if !skim(&s, doc) || fastjson.ValidateBytes(doc) != nil {
			return
		}
		skimmedEvents, err1 := new(decoder).document(doc, 0)
		whole, err2 := new(decoder).whole(doc, 0)
		if (err1 == nil) != (err2 == nil) || len(skimmedEvents) != len(whole) {
			t.Fatalf("skimmed: %d events, %v; whole: %d events, %v", len(skimmedEvents), err1, len(whole), err2)
		}
		for i := range whole {
			for _, k := range []string{"requestObject", "responseObject", ""} {
				a, b := skimmedEvents[i].get(k), whole[i].get(k)
				if k == "" {
					a, b = skimmedEvents[i].whole(), whole[i].v
				}
				if (a == nil) != (b == nil) || a != nil && !bytes.Equal(a.MarshalTo(nil), b.MarshalTo(nil)) {
					t.Fatalf("event %d %q: skimmed %s, whole %s", i, k, a, b)
				}
			}
		}
	})
}
