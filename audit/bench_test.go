package audit

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// fixtureLines is every well-formed recorded event, as JSON lines.
func fixtureLines(t testing.TB) ([]byte, int) {
	dir := filepath.Join(conformance.Dir(t), "k8saudit", "fixtures")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var buf bytes.Buffer
	n := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, line := range bytes.Split(b, []byte{'\n'}) {
			if evs, err := DecodeBatch(line); err == nil {
				buf.Write(bytes.TrimSpace(line))
				buf.WriteByte('\n')
				n += len(evs)
			}
		}
	}
	return buf.Bytes(), n
}

func upstreamEvaluator(t testing.TB) *Evaluator {
	b, err := os.ReadFile(filepath.Join(conformance.Dir(t), "rules", "k8s_audit_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l := rules.NewLoader(fields.Syscall(), fields.K8sAudit())
	if res := l.Load("k8s_audit_rules.yaml", string(b)); !res.Successful {
		t.Fatal(res.Errors)
	}
	ev, err := NewEvaluator(l.Set(), engine.DefaultOptions(), "bench")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// BenchmarkReplay decodes and evaluates a stream of recorded audit events
// (every fixture, 100 times over) through the full upstream
// k8s_audit_rules.yaml, alerts included, on one core.
func BenchmarkReplay(b *testing.B) {
	one, n1 := fixtureLines(b)
	data, n := bytes.Repeat(one, 100), 100*n1
	ev := upstreamEvaluator(b)
	var alerts []*output.Alert
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		err := Stream(bytes.NewReader(data), func(e *Event) error {
			alerts = ev.Evaluate(e, alerts[:0])
			return nil
		}, func(err error) { b.Fatal(err) })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

// BenchmarkEvaluate evaluates already-decoded events (no JSON parsing).
func BenchmarkEvaluate(b *testing.B) {
	data, n := fixtureLines(b)
	evs, err := DecodeBatch(data)
	if err != nil || len(evs) != n {
		b.Fatal(err, len(evs), n)
	}
	ev := upstreamEvaluator(b)
	var alerts []*output.Alert
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range evs {
			e.lists = e.lists[:0]
			alerts = ev.Evaluate(e, alerts[:0])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

// realTraffic is the recorded real-cluster corpus and how many events it
// holds.
func realTraffic(tb testing.TB) ([]byte, int) {
	data := conformance.RealTraffic(tb)
	return data, bytes.Count(data, []byte{'\n'})
}

// BenchmarkReplayRealTraffic decodes, evaluates and encodes (into a
// discarding buffered writer, as replay writes) the recorded corpus
// through the upstream k8s_audit_rules.yaml, on one goroutine: the work
// of peregrine replay without its file reads and writes.
func BenchmarkReplayRealTraffic(b *testing.B) {
	data, n := realTraffic(b)
	ev := upstreamEvaluator(b)
	out := bufio.NewWriterSize(io.Discard, 64<<10)
	f := output.DefaultFormat()
	var alerts []*output.Alert
	var fired int
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		fired = 0
		err := Stream(bytes.NewReader(data), func(e *Event) error {
			alerts = ev.Evaluate(e, alerts[:0])
			fired += len(alerts)
			for _, a := range alerts {
				out.Write(a.Line(f))
			}
			return nil
		}, func(err error) { b.Fatal(err) })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(data))/float64(n), "B/event")
	b.ReportMetric(float64(fired)/float64(n), "alerts/event")
	goruntime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/event")
}
