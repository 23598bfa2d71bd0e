package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/valyala/fastjson"
)

// DecodeError says what is wrong with an input and where.
type DecodeError struct {
	Line int // 1-based line of the offending document, 0 when unknown
	Msg  string
}

func (e *DecodeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ErrEmpty is returned for a body without any event.
var ErrEmpty = errors.New("no audit event in the input")

// DecodeBatch decodes one body: an EventList, a single Event, a JSON array
// of events, or JSON lines. The events have a decoder of their own, so
// they stay valid as long as they are referenced.
func DecodeBatch(data []byte) ([]*Event, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, ErrEmpty
	}
	if !isLines(trimmed) {
		return new(decoder).document(trimmed, 0)
	}
	var out []*Event
	err := eachLine(bytes.NewReader(trimmed), func(line int, doc []byte) error {
		evs, err := new(decoder).document(doc, line)
		out = append(out, evs...)
		return err
	})
	return out, err
}

// Decoder decodes bodies as DecodeBatch does, reusing its memory from one
// body to the next (parsers, buffers, events): the events of a Decode are
// valid until the next one. The audit endpoint keeps a pool of them.
type Decoder struct{ d decoder }

// Decode decodes one body.
func (d *Decoder) Decode(data []byte) ([]*Event, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || isLines(trimmed) {
		return DecodeBatch(trimmed) // JSON lines' events each need a decoder: not the apiserver's way
	}
	return d.d.document(trimmed, 0)
}

// isLines reports whether a body is JSON lines rather than one document.
func isLines(trimmed []byte) bool {
	return bytes.IndexByte(trimmed, '\n') >= 0 && trimmed[0] == '{' && !isSingleDocument(trimmed)
}

// decoder decodes documents into events, reusing its parsers, buffers
// and events from one document to the next: an event is valid until the
// decoder decodes again.
type decoder struct {
	p       fastjson.Parser
	s       skimmed
	parsers []*fastjson.Parser // for bodies, as events read them
	used    int                // of parsers, in this document
	events  []Event
	out     []*Event
}

// parser is a parser for one of the document's bodies.
func (d *decoder) parser() *fastjson.Parser {
	if d.used == len(d.parsers) {
		d.parsers = append(d.parsers, new(fastjson.Parser))
	}
	d.used++
	return d.parsers[d.used-1]
}

// isSingleDocument reports whether a multi-line input is one JSON value
// (a pretty-printed EventList) rather than JSON lines.
func isSingleDocument(data []byte) bool { return fastjson.ValidateBytes(data) == nil }

// document turns one JSON document into events: skimmed (skim.go) when
// it can be, whole otherwise.
func (d *decoder) document(doc []byte, line int) ([]*Event, error) {
	d.used = 0
	if !skim(&d.s, doc) {
		return d.whole(doc, line)
	}
	v, err := d.p.ParseBytes(d.s.light)
	if err != nil {
		return d.whole(doc, line) // the error as the document has it
	}
	vals, what, err := eventValues(v, line)
	if err != nil {
		return nil, err
	}
	bodies := d.s.items
	if what == "event" {
		if len(bodies) > 0 { // an Event's own "items" member was taken for events
			return d.whole(doc, line)
		}
		bodies = []eventBodies{d.s.top}
	}
	if len(bodies) != len(vals) { // "items" given twice
		return d.whole(doc, line)
	}
	return d.eventsOf(vals, bodies, line, what)
}

// whole decodes doc without skimming it.
func (d *decoder) whole(doc []byte, line int) ([]*Event, error) {
	v, err := d.p.ParseBytes(doc)
	if err != nil {
		return nil, &DecodeError{Line: line, Msg: "malformed JSON: " + strings.TrimPrefix(err.Error(), "cannot parse JSON: ")}
	}
	vals, what, err := eventValues(v, line)
	if err != nil {
		return nil, err
	}
	return d.eventsOf(vals, nil, line, what)
}

// eventValues are the event objects of a parsed document, and what they
// are called in errors.
func eventValues(v *fastjson.Value, line int) ([]*fastjson.Value, string, error) {
	switch v.Type() {
	case fastjson.TypeArray:
		return v.GetArray(), "array element", nil
	case fastjson.TypeObject:
		if kind := str(v.Get("kind")); kind == "EventList" {
			if err := checkAPIVersion(v, line); err != nil {
				return nil, "", err
			}
			items := v.Get("items")
			if items == nil || items.Type() != fastjson.TypeArray {
				return nil, "", &DecodeError{Line: line, Msg: "EventList has no items array"}
			}
			return items.GetArray(), "items element", nil
		}
		return []*fastjson.Value{v}, "event", nil
	}
	return nil, "", &DecodeError{Line: line, Msg: fmt.Sprintf("expected an audit Event or EventList object, got %s", v.Type())}
}

// eventsOf checks and wraps vals, with the bodies skimming cut out of
// each (nil: none was).
func (d *decoder) eventsOf(vals []*fastjson.Value, bodies []eventBodies, line int, what string) ([]*Event, error) {
	if cap(d.events) < len(vals) {
		d.events = make([]Event, len(vals))
	}
	d.events, d.out = d.events[:len(vals)], d.out[:0]
	for i, v := range vals {
		var b eventBodies
		if bodies != nil {
			b = bodies[i]
		}
		e := &d.events[i]
		*e = Event{v: v, d: d, lists: e.lists[:0]}
		e.wrap(b)
		if err := checkEvent(e, line); err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				return nil, fmt.Errorf("%s %d: %w", what, i, err)
			}
			de.Msg = fmt.Sprintf("%s %d: %s", what, i, de.Msg)
			return nil, de
		}
		d.out = append(d.out, e)
	}
	return d.out, nil
}

// checkEvent checks an event's kind and apiVersion, as locate found them.
func checkEvent(e *Event, line int) error {
	if e.v.Type() != fastjson.TypeObject {
		return &DecodeError{Line: line, Msg: fmt.Sprintf("expected an audit Event object, got %s", e.v.Type())}
	}
	if kind := e.hot[hotKind]; kind != nil && str(kind) != "Event" {
		return &DecodeError{Line: line, Msg: fmt.Sprintf("kind %s is not an audit Event", kind.String())}
	}
	return apiVersionIs(e.hot[hotAPIVersion], line)
}

func checkAPIVersion(v *fastjson.Value, line int) error {
	return apiVersionIs(v.Get("apiVersion"), line)
}

func apiVersionIs(av *fastjson.Value, line int) error {
	switch {
	case av == nil, str(av) == "audit.k8s.io/v1", str(av) == "audit.k8s.io/v1beta1":
		return nil
	}
	return &DecodeError{Line: line, Msg: fmt.Sprintf("apiVersion %s is not audit.k8s.io/v1 or v1beta1", av.String())}
}

// Stream reads events from r: JSON lines (the log backend's format), or one
// document. fn sees each event before the next is decoded; the event is
// only valid during the call. A malformed document is passed to bad with
// its line and skipped, so one broken line loses nothing else.
func Stream(r io.Reader, fn func(*Event) error, bad func(error)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := br.Peek(1)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read audit events: %w", err)
	}
	if first[0] == '[' || !looksLikeLines(br) {
		data, err := io.ReadAll(br)
		if err != nil {
			return fmt.Errorf("read audit events: %w", err)
		}
		return streamDocument(new(decoder), data, 1, fn, bad)
	}
	d := new(decoder)
	return eachLine(br, func(line int, doc []byte) error {
		return streamDocument(d, doc, line, fn, bad)
	})
}

// looksLikeLines guesses from the first line whether the input is JSON
// lines: the first line alone is a complete JSON value.
func looksLikeLines(br *bufio.Reader) bool {
	buf, _ := br.Peek(br.Buffered())
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		return fastjson.ValidateBytes(bytes.TrimSpace(buf[:i])) == nil
	}
	return true
}

func streamDocument(d *decoder, doc []byte, line int, fn func(*Event) error, bad func(error)) error {
	evs, err := d.document(doc, line)
	if err != nil {
		bad(err)
		return nil
	}
	for _, ev := range evs {
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

// eachLine calls fn with every non-blank line and its 1-based number.
func eachLine(r io.Reader, fn func(line int, doc []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		if doc := bytes.TrimSpace(sc.Bytes()); len(doc) > 0 {
			if err := fn(n, doc); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read audit events at line %d: %w", n+1, err)
	}
	return nil
}
