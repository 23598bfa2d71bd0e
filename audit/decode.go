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
// of events, or JSON lines. The events share a parser of their own, so they
// stay valid as long as they are referenced.
func DecodeBatch(data []byte) ([]*Event, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, ErrEmpty
	}
	var out []*Event
	if bytes.Count(trimmed, []byte{'\n'}) > 0 && trimmed[0] == '{' && !isSingleDocument(trimmed) {
		err := eachLine(bytes.NewReader(trimmed), func(line int, doc []byte) error {
			evs, err := decodeDocument(new(fastjson.Parser), doc, line)
			out = append(out, evs...)
			return err
		})
		return out, err
	}
	return decodeDocument(new(fastjson.Parser), trimmed, 0)
}

// isSingleDocument reports whether a multi-line input is one JSON value
// (a pretty-printed EventList) rather than JSON lines.
func isSingleDocument(data []byte) bool { return fastjson.ValidateBytes(data) == nil }

// decodeDocument turns one JSON document into events.
func decodeDocument(p *fastjson.Parser, doc []byte, line int) ([]*Event, error) {
	v, err := p.ParseBytes(doc)
	if err != nil {
		return nil, &DecodeError{Line: line, Msg: "malformed JSON: " + strings.TrimPrefix(err.Error(), "cannot parse JSON: ")}
	}
	switch v.Type() {
	case fastjson.TypeArray:
		return eventsOf(v.GetArray(), line, "array element")
	case fastjson.TypeObject:
		if kind := str(v.Get("kind")); kind == "EventList" {
			if err := checkAPIVersion(v, line); err != nil {
				return nil, err
			}
			items := v.Get("items")
			if items == nil || items.Type() != fastjson.TypeArray {
				return nil, &DecodeError{Line: line, Msg: "EventList has no items array"}
			}
			return eventsOf(items.GetArray(), line, "items element")
		}
		return eventsOf([]*fastjson.Value{v}, line, "event")
	}
	return nil, &DecodeError{Line: line, Msg: fmt.Sprintf("expected an audit Event or EventList object, got %s", v.Type())}
}

func eventsOf(vals []*fastjson.Value, line int, what string) ([]*Event, error) {
	out := make([]*Event, 0, len(vals))
	for i, v := range vals {
		if err := checkEvent(v, line); err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				return nil, fmt.Errorf("%s %d: %w", what, i, err)
			}
			de.Msg = fmt.Sprintf("%s %d: %s", what, i, de.Msg)
			return nil, de
		}
		out = append(out, newEvent(v))
	}
	return out, nil
}

func checkEvent(v *fastjson.Value, line int) error {
	if v.Type() != fastjson.TypeObject {
		return &DecodeError{Line: line, Msg: fmt.Sprintf("expected an audit Event object, got %s", v.Type())}
	}
	if kind := v.Get("kind"); kind != nil && str(kind) != "Event" {
		return &DecodeError{Line: line, Msg: fmt.Sprintf("kind %s is not an audit Event", kind.String())}
	}
	return checkAPIVersion(v, line)
}

func checkAPIVersion(v *fastjson.Value, line int) error {
	av := v.Get("apiVersion")
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
		return streamDocument(new(fastjson.Parser), data, 1, fn, bad)
	}
	var p fastjson.Parser
	return eachLine(br, func(line int, doc []byte) error {
		return streamDocument(&p, doc, line, fn, bad)
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

func streamDocument(p *fastjson.Parser, doc []byte, line int, fn func(*Event) error, bad func(error)) error {
	evs, err := decodeDocument(p, doc, line)
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
