package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/internal/testenv"
)

// workloadPairs is how many ABBA pairs each workload runs.
const workloadPairs = 5

// BenchmarkWorkloadCost measures what the agent, with the upstream stable
// and incubating rules loaded, costs two real workloads in wall time: a
// Go build from scratch (go build -a of a small command: the compiler
// and linker over the part of the standard library it needs, thousands of
// opens and execs) and unpacking a tarball of Go's source tree (about 15,000
// files written). Each runs in ABBA pairs with the agent and without; the
// ratio is taken per pair and the median reported (goal: at most 1.10).
func BenchmarkWorkloadCost(b *testing.B) {
	testenv.RequireKernel(b)
	work := b.TempDir()
	tarball := filepath.Join(work, "go-src.tar.gz")
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatal(err)
	}
	mustRun(b, "tar", "-C", string(goroot[:len(goroot)-1]), "-czf", tarball, "src")
	workloads := []struct {
		name string
		run  func()
	}{
		{"go-build", func() { mustRun(b, "go", "build", "-a", "-o", filepath.Join(work, "openloop"), "./testdata/openloop") }},
		{"untar", func() {
			dir := filepath.Join(work, "untar")
			os.RemoveAll(dir)
			os.Mkdir(dir, 0o755)
			mustRun(b, "tar", "-C", dir, "-xzf", tarball)
		}},
	}
	rules := filepath.Join(conformance.Dir(b), "rules")
	for _, w := range workloads {
		var base, ratios []float64
		for i := range 2 * workloadPairs {
			with, without := pair(i, func() float64 {
				stop, _ := runAgent(b, filepath.Join(rules, "falco_rules.yaml"), filepath.Join(rules, "falco-incubating_rules.yaml"))
				defer stop()
				return timed(w.run)
			}, func() float64 { return timed(w.run) })
			base, ratios = append(base, without), append(ratios, with/without)
		}
		b.ReportMetric(median(base), w.name+"-s")
		b.ReportMetric(median(ratios), w.name+"-ratio")
	}
}

func timed(f func()) float64 {
	start := time.Now()
	f()
	return time.Since(start).Seconds()
}

func mustRun(b *testing.B, name string, args ...string) {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
