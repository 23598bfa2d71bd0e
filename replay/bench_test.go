package replay

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
)

// corpusCopies is how many times the recorded corpus is repeated in the
// file replayed: enough events that start-up (loading the rules) is a
// small part of a run.
const corpusCopies = 8

// BenchmarkReplayProcess runs what a user runs, `peregrine replay -r
// k8s_audit_rules.yaml --audit real.jsonl > alerts.json`, on the recorded
// real-cluster corpus (audit/testdata), as a whole process held to one
// core (GOMAXPROCS=1): file read, JSON decoding, rules, alerts encoded and
// written to a file. events/s counts the events of the file over each
// run's wall time, start-up included.
func BenchmarkReplayProcess(b *testing.B) {
	rules := filepath.Join(conformance.Dir(b), "rules", "k8s_audit_rules.yaml")
	dir := b.TempDir()
	bin := filepath.Join(dir, "peregrine")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/peregrine").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	input, n := corpusFile(b, dir)
	alerts := filepath.Join(dir, "alerts.json")
	var written int64
	b.ResetTimer()
	for b.Loop() {
		out, err := os.Create(alerts)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "replay", "-r", rules, "--audit", input)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = out, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			b.Fatalf("replay: %v\n%s", err, stderr.Bytes())
		}
		written, _ = out.Seek(0, io.SeekEnd)
		out.Close()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(written)/float64(n), "alert-B/event")
}

// corpusFile writes the corpus corpusCopies times into dir and says how
// many events the file holds.
func corpusFile(b *testing.B, dir string) (string, int) {
	one := conformance.RealTraffic(b)
	name := filepath.Join(dir, "real.jsonl")
	if err := os.WriteFile(name, bytes.Repeat(one, corpusCopies), 0o644); err != nil {
		b.Fatal(err)
	}
	return name, corpusCopies * bytes.Count(one, []byte{'\n'})
}
