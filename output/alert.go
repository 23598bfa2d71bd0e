package output

import (
	"time"

	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// Alert is one rule match.
type Alert struct {
	// ID names the alert, made where it was raised (see Publish).
	ID       string
	Time     time.Time
	Rule     string
	Priority rules.Priority
	Source   string
	Hostname string
	// Message is the rule's formatted output.
	Message      string
	OutputFields map[string]any
	Tags         []string
}

// Matched is the alert of rule r matching ev, an event of source seen at
// t on hostname: the rule's output rendered for ev, and among its fields
// evt.time, as Falco's alerts have it whatever the source.
func Matched[E any](r *engine.Rule[E], ev *E, source, hostname string, t time.Time) *Alert {
	msg, vals := r.Render(ev)
	vals["evt.time"] = t.UnixNano()
	return &Alert{Time: t, Rule: r.Name, Priority: r.Priority, Source: source, Hostname: hostname,
		Message: msg, OutputFields: vals, Tags: r.Tags}
}

// Format says how alerts are rendered, with falco.yaml's option names.
type Format struct {
	JSON                bool // json_output
	IncludeOutput       bool // json_include_output_property
	IncludeTags         bool // json_include_tags_property
	IncludeMessage      bool // json_include_message_property
	IncludeOutputFields bool // json_include_output_fields_property
	TimeFormatISO8601   bool // time_format_iso_8601
}

// DefaultFormat is falco.yaml's default, with JSON on.
func DefaultFormat() Format {
	return Format{JSON: true, IncludeOutput: true, IncludeTags: true, IncludeOutputFields: true}
}

// Text is the alert's text line: "<time>: <Priority> <message>", the time
// as evt.time (HH:MM:SS.nnnnnnnnn) or ISO 8601, in UTC.
func (a *Alert) Text(f Format) string {
	t := a.Time.UTC()
	stamp := t.Format("15:04:05.000000000")
	if f.TimeFormatISO8601 {
		stamp = t.Format("2006-01-02T15:04:05.000000000-0700")
	}
	return stamp + ": " + a.Priority.String() + " " + a.Message
}

// TimeLayout is the alert JSON's time: RFC 3339 in UTC with exactly nine
// fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// Line renders the alert in the configured form, newline-terminated.
func (a *Alert) Line(f Format) []byte {
	if f.JSON {
		return append(a.JSON(f), '\n')
	}
	return []byte(a.Text(f) + "\n")
}
