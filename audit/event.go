package audit

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"
)

// Event is one decoded audit event. It references the memory of the
// parser that decoded it: its strings are valid while the Event is, and
// callers that keep them longer must copy them.
type Event struct {
	v      *fastjson.Value           // the event; when skimmed (skim.go), null where its bodies were
	bodies [2]body                   // requestObject, responseObject
	raw    []byte                    // the event as it came, when skimmed
	full   *fastjson.Value           // raw parsed, for the rare field that reads the whole event
	d      *decoder                  // gives the bodies' parsers
	hot    [hotCount]*fastjson.Value // see hot.go
	t      time.Time                 // Time, parsed on first use
	tDone  bool
	lists  []cachedListEntry // list fields computed for this event, by accessor id
	// Num is the event's position in its input (1-based), for evt.num.
	Num uint64
}

type cachedListEntry struct {
	id   int
	vals []string
}

// body is a requestObject or responseObject: parsed on first use when
// skimming cut it out (raw), or as parsed with the event (done).
type body struct {
	raw  []byte
	v    *fastjson.Value
	done bool
}

const (
	requestBody = iota
	responseBody
)

// body returns body i, parsing it on first use. A body malformed inside
// (which skimming does not check) reads as absent.
func (e *Event) body(i int) *fastjson.Value {
	b := &e.bodies[i]
	if !b.done {
		b.done = true
		b.v, _ = e.d.parser().ParseBytes(b.raw)
	}
	return b.v
}

// whole returns the whole event, bodies included.
func (e *Event) whole() *fastjson.Value {
	if e.raw == nil {
		return e.v
	}
	if e.full == nil {
		full, err := new(fastjson.Parser).ParseBytes(e.raw)
		if err != nil { // a body malformed inside reads as absent here too
			full = e.v
		}
		e.full = full
	}
	return e.full
}

// Get returns the value at a key path of the event, nil when absent.
func (e *Event) Get(keys ...string) *fastjson.Value { return e.get(keys...) }

// JSON returns the event's JSON text.
func (e *Event) JSON() []byte { return e.whole().MarshalTo(nil) }

// AuditID returns the event's auditID, or "".
func (e *Event) AuditID() string { return str(e.hot[hotAuditID]) }

// Time is when the event reached its stage: stageTimestamp, falling back to
// requestReceivedTimestamp and the v1beta1 timestamp. Alerts carry it.
func (e *Event) Time() time.Time {
	if !e.tDone {
		e.t, e.tDone = e.parseTime(), true
	}
	return e.t
}

func (e *Event) parseTime() time.Time {
	for _, k := range []string{"stageTimestamp", "requestReceivedTimestamp", "timestamp"} {
		if s := str(e.v.Get(k)); s != "" {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// str returns a JSON string's text without copying it, or "" for anything
// else. The text lives in the parser's buffer, which the Event keeps.
func str(v *fastjson.Value) string {
	if v == nil || v.Type() != fastjson.TypeString {
		return ""
	}
	b := v.GetStringBytes()
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// text renders a value as the k8saudit plugin does: strings as they are,
// anything else as its JSON text.
func text(v *fastjson.Value) (string, bool) {
	switch {
	case v == nil:
		return "", false
	case v.Type() == fastjson.TypeString:
		return str(v), true
	case v.Type() == fastjson.TypeTrue:
		return "true", true
	case v.Type() == fastjson.TypeFalse:
		return "false", true
	}
	return string(v.MarshalTo(nil)), true
}

// wrap takes the bodies skimming cut out of the event (none: e.v is
// whole) and locates what rules read most.
func (e *Event) wrap(b eventBodies) {
	if b.req != nil || b.resp != nil {
		e.raw = b.raw
	}
	e.bodies[requestBody] = body{raw: b.req, done: b.req == nil}
	e.bodies[responseBody] = body{raw: b.resp, done: b.resp == nil}
	e.locate()
}

// NewEvent parses one event object from its JSON with a parser of its own,
// so the event stays valid as long as it is referenced.
func NewEvent(data []byte) (*Event, error) {
	evs, err := new(decoder).document(data, 0)
	if err != nil {
		return nil, err
	}
	if len(evs) != 1 {
		return nil, fmt.Errorf("expected one audit event, got %d", len(evs))
	}
	return evs[0], nil
}
