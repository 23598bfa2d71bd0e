package audit

import (
	"bytes"
	"os"
	"testing"

	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

// FuzzDecode feeds arbitrary bodies to the decoder and reads every field
// of whatever decodes: nothing may panic, and a failed decode says why.
// (An empty EventList or array is valid: zero events.)
func FuzzDecode(f *testing.F) {
	sample, _ := os.ReadFile("testdata/sample-events.json")
	f.Add(sample)
	f.Add([]byte(`[{"auditID":"a","requestObject":{"spec":{"containers":[{"ports":[{"hostPort":1}]}],"volumes":[{"name":"x","hostPath":{"path":"/"}}]}}}]`))
	f.Add([]byte("{\"auditID\":1}\n{\"auditID\":\"b\",\"requestURI\":\"/x?%zz\"}\n"))
	src := &Source{}
	var accs []engine.Accessor[Event]
	for _, fd := range fields.K8sAudit().Fields() {
		for _, arg := range []string{"", "0", "command", "/spec/x", "/var/*"} {
			if a, ok := src.Accessor(fd, arg); ok {
				accs = append(accs, a)
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := DecodeBatch(body)
		if err != nil && err.Error() == "" {
			t.Fatal("an error without a reason")
		}
		if len(bytes.TrimSpace(body)) == 0 && err == nil {
			t.Fatal("an empty body decoded")
		}
		for _, e := range evs {
			e.Time()
			ExecSession(e)
			for _, a := range accs {
				readAll(a, e)
			}
		}
	})
}

func readAll(a engine.Accessor[Event], e *Event) {
	switch a.Kind {
	case engine.KindString:
		a.Str(e)
	case engine.KindInt:
		a.Int(e)
	case engine.KindList:
		for i := range a.N(e) {
			a.At(e, i)
		}
	}
}
