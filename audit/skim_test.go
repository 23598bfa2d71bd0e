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
		{name: "a body whose brackets balance but do not match is passed over, and read as absent",
			doc:   `{"requestObject":{"a":[}],"verb":"get"}`,
			light: `{"requestObject":null,"verb":"get"}`,
			top:   cut{Raw: `{"requestObject":{"a":[}],"verb":"get"}`, Req: `{"a":[}]`}},
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
	for _, doc := range []string{``, `x`, `{"a":1`, `{"requestObject":{"a":[}}`, `{"requestObject":{"a":"}}`,
		`{"a" 1}`, `{"a":1,}`, `[1 2]`, `{"a":1} x`, `{"requestObject":{]]}`, `{"requestObject":{"a":"\"}}`} {
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

// byteByByte is the plainest walk: a byte at a time, with a depth count.
// A quote after an odd run of backslashes is not one, wherever it is
// (skipNested's blocks cannot tell a string's backslashes from stray
// ones; in valid JSON there are none of the latter).
func byteByByte(b []byte) int {
	depth := 0
	inString, escapes := false, false
	for j, c := range b {
		escaped := escapes
		escapes = c == '\\' && !escaped
		switch {
		case c == '"' && !escaped:
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// TestSkipNestedAcrossBlocks: values that end, and strings and runs of
// backslashes that cross, at every place of a 64-byte block.
func TestSkipNestedAcrossBlocks(t *testing.T) {
	inner := []string{`"` + strings.Repeat(`\\`, 40) + `"`, `"` + strings.Repeat(`\"`, 30) + `}"`,
		`"` + strings.Repeat("x", 70) + `\\\""`, strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40), `{"a":{"b":"]}"}}`}
	n := 0
	for pad := range 130 {
		for _, in := range inner {
			doc := `{"` + strings.Repeat("p", pad) + `":[` + in + `,` + in + `]}` + strings.Repeat(" ", pad%70)
			n++
			if got, want := skipNested([]byte(doc), 0), byteByByte([]byte(doc)); got != want || want < 0 {
				t.Errorf("skipNested(%s) = %d, want %d", doc, got, want)
			}
		}
	}
	if n != 650 {
		t.Fatalf("%d cases, want 650", n)
	}
}

// TestBlockMasks: the vector masks are the plain ones, on every byte
// value at every place.
func TestBlockMasks(t *testing.T) {
	var block [64]byte
	for c := range 256 {
		for k := range block {
			block[k] = byte(c + k*7)
		}
		if got, want := blockMasks(block[:]), blockMasksGo(block[:]); got != want {
			t.Fatalf("block from %#x: masks %+v, want %+v", c, got, want)
		}
	}
}

// TestPass: the vector pass is the plain one: the same blocks passed and
// the same state after, on values whose strings, escapes and depth
// cross blocks at every place.
func TestPass(t *testing.T) {
	inner := []string{`"` + strings.Repeat(`\\`, 40) + `"`, `"` + strings.Repeat(`\"`, 30) + `}"`, `"x\\\""`,
		strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40), `{"a":{"b":"]}"}}`, `"` + strings.Repeat(`\`, 63) + `"`}
	n := 0
	for pad := range 70 {
		for _, a := range inner {
			for _, b := range inner {
				doc := []byte(`{"` + strings.Repeat("p", pad) + `":[` + a + `,` + b + `,` + a + `]}`)
				for from := 1; from+64 <= len(doc); from += 13 {
					want := scanner{depth: 1 + from%3, inString: uint64(from%2) * ^uint64(0), escapeNext: uint64(from % 5 / 4)}
					got := want
					n++
					if gn, wn := pass(doc[from:], &got), passGo(doc[from:], &want); gn != wn || got != want {
						t.Fatalf("%s from %d: passed %d blocks, state %+v; want %d, %+v", doc, from, gn, got, wn, want)
					}
				}
			}
		}
	}
	if n < 10000 {
		t.Fatalf("%d cases", n)
	}
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
		for depth := range 3 {
			got, want := scanner{depth: depth}, scanner{depth: depth}
			if gn, wn := pass(doc, &got), passGo(doc, &want); gn != wn || got != want {
				t.Fatalf("depth %d: passed %d blocks, state %+v; plain Go %d, %+v", depth, gn, got, wn, want)
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

// TestSkipString: the word-at-a-time walk against a byte at a time, with
// quotes and runs of backslashes at every place of a word.
func TestSkipString(t *testing.T) {
	plain := func(b []byte) int {
		for j := 1; j < len(b); j++ {
			switch b[j] {
			case '"':
				return j + 1
			case '\\':
				j++
			}
		}
		return -1
	}
	pieces := []string{`\"`, `\\`, `\\\"`, `a`, `\\\\"`, `é`, `\`}
	n := 0
	for pad := range 20 {
		for _, p := range pieces {
			for _, q := range pieces {
				for _, end := range []string{`"`, ``, `","x":1}`} {
					s := []byte(`"` + strings.Repeat("k", pad) + p + strings.Repeat("v", pad%9) + q + end)
					n++
					if got, want := skipString(s, 0), plain(s); got != want {
						t.Errorf("skipString(%s) = %d, want %d", s, got, want)
					}
				}
			}
		}
	}
	if n != 2940 {
		t.Fatalf("%d cases, want 2940", n)
	}
}
