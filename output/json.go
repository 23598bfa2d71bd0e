package output

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// JSON renders the alert as Falco does, key for key, then its id ("uuid",
// falcosidekick's name, not Falco's). It writes the bytes encoding/json
// would (HTML left unescaped, output_fields' keys sorted) without its
// reflection: encoding was a fifth of replaying audit events.
func (a *Alert) JSON(f Format) []byte {
	return a.AppendJSON(make([]byte, 0, 512+64*len(a.OutputFields)), f)
}

// AppendJSON appends the alert's JSON to buf.
func (a *Alert) AppendJSON(buf []byte, f Format) []byte {
	buf = append(buf, `{"hostname":`...)
	buf = appendString(buf, a.Hostname)
	if f.IncludeOutput {
		buf = appendString(append(buf, `,"output":`...), a.Text(f))
	}
	if f.IncludeMessage && a.Message != "" {
		buf = appendString(append(buf, `,"message":`...), a.Message)
	}
	buf = appendString(append(buf, `,"priority":`...), a.Priority.String())
	buf = appendString(append(buf, `,"rule":`...), a.Rule)
	buf = appendString(append(buf, `,"source":`...), a.Source)
	if f.IncludeTags { // present even when empty, as Falco has it
		buf = append(buf, `,"tags":[`...)
		for i, t := range a.Tags {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, t)
		}
		buf = append(buf, ']')
	}
	buf = append(buf, `,"time":"`...)
	buf = a.Time.UTC().AppendFormat(buf, TimeLayout)
	buf = append(buf, '"')
	if f.IncludeOutputFields {
		buf = appendFields(append(buf, `,"output_fields":`...), a.OutputFields)
	}
	if a.ID != "" {
		buf = appendString(append(buf, `,"uuid":`...), a.ID)
	}
	return append(buf, '}')
}

// appendFields appends the fields as a JSON object, keys sorted.
func appendFields(buf []byte, fields map[string]any) []byte {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendValue(append(appendString(buf, k), ':'), fields[k])
	}
	return append(buf, '}')
}

// appendValue appends the values rules produce (text, integers, booleans,
// none) and the exact numbers of agents' alerts without reflection;
// anything else as encoding/json writes it.
func appendValue(buf []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendString(buf, v)
	case int64:
		return strconv.AppendInt(buf, v, 10)
	case int:
		return strconv.AppendInt(buf, int64(v), 10)
	case bool:
		return strconv.AppendBool(buf, v)
	case json.Number: // an agent's number, decoded by the stream: already valid JSON
		return append(buf, v...)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(buf, "null"...)
	}
	return append(buf, b...)
}

// appendString appends s as a JSON string, escaped as encoding/json does
// with HTML escaping off: quotes, backslashes and control characters;
// invalid UTF-8 as U+FFFD; U+2028 and U+2029, which JavaScript reads as
// line ends.
func appendString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(append(buf, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(append(buf, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(buf, s[start:]...), '"')
}
