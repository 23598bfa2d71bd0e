package agent

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/bpf"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/internal/testenv"
)

// loopCPU runs the open/close loop and returns its CPU ns per iteration.
func loopCPU(b *testing.B, bin string, n int) float64 {
	out, err := exec.Command(bin, strconv.Itoa(n)).Output()
	if err != nil {
		b.Fatal(err)
	}
	v, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	return v
}

// runAgent starts the agent with rules and returns a stop function.
func runAgent(b *testing.B, rulesFiles ...string) (stop func(), reg *prometheus.Registry) {
	cfg, err := config.Load("", []string{"rules_files=[" + strings.Join(rulesFiles, ",") + "]", "stdout_output.enabled=false",
		"file_output.enabled=true", "file_output.filename=" + filepath.Join(b.TempDir(), "alerts")})
	if err != nil {
		b.Fatal(err)
	}
	reg = prometheus.NewRegistry()
	stopAgent := running(b, Options{Config: cfg, Registry: reg})
	return func() { _ = stopAgent() }, reg
}

// pair measures with and without side by side, in the order round i of an
// ABBA sequence gives, so that drift of the machine cancels out.
func pair(i int, with, without func() float64) (float64, float64) {
	if i%2 == 0 {
		wo := without()
		return with(), wo
	}
	w := with()
	return w, without()
}

func median(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }

// BenchmarkSyscallOverhead measures what the agent costs a process that
// opens and closes a file in a loop, as CPU time per iteration relative to
// no agent: capturing every open (the upstream stable + incubating rules
// loaded), and with rules that need no open (the probe as the agent loads
// it for connect-only rules: lifecycle, connect and the state syscalls).
//
// This machine is shared and noisy: one loop's CPU time varies by ±15%
// from run to run with nothing attached. So the two sides run in adjacent
// pairs, in alternating order (ABBA) to cancel drift, the ratio is taken
// per pair and the median of many pairs reported.
func BenchmarkSyscallOverhead(b *testing.B) {
	testenv.RequireKernel(b)
	bin := filepath.Join(b.TempDir(), "openloop")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/openloop").CombinedOutput(); err != nil {
		b.Fatalf("build openloop: %v %s", err, out)
	}
	dir := filepath.Join(conformance.Dir(b), "rules")
	const n = 100000
	var base, open []float64
	for i := range 11 {
		with, without := pair(i, func() float64 {
			stop, _ := runAgent(b, filepath.Join(dir, "falco_rules.yaml"), filepath.Join(dir, "falco-incubating_rules.yaml"))
			defer stop()
			return loopCPU(b, bin, n)
		}, func() float64 { return loopCPU(b, bin, n) })
		base, open = append(base, without), append(open, with/without)
	}
	b.ReportMetric(median(base), "base-ns/iter")
	b.ReportMetric(median(open), "ratio-capture-open")
	b.ReportMetric(notNeededRatio(b, bin, n), "ratio-not-needed")
}

// notNeededRatio attaches and detaches the probe as connect-only rules
// load it, 41 times, and returns the median ratio of the loop's CPU time
// with it to without it.
func notNeededRatio(b *testing.B, bin string, n int) float64 {
	var ratios []float64
	for i := range 41 {
		with, without := pair(i, func() float64 {
			c, err := bpf.Load(bpf.Options{Syscalls: []string{"connect"}})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx, func(*bpf.Record) {}) }()
			defer func() { cancel(); <-done }()
			return loopCPU(b, bin, n)
		}, func() float64 { return loopCPU(b, bin, n) })
		ratios = append(ratios, with/without)
	}
	return median(ratios)
}

// BenchmarkAgentThroughput drives opens as fast as one process can and
// reports the events/s the agent took in and the drops the kernel counted.
func BenchmarkAgentThroughput(b *testing.B) {
	testenv.RequireKernel(b)
	bin := filepath.Join(b.TempDir(), "openloop")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/openloop").CombinedOutput(); err != nil {
		b.Fatalf("build openloop: %v %s", err, out)
	}
	dir := filepath.Join(conformance.Dir(b), "rules")
	stop, reg := runAgent(b, filepath.Join(dir, "falco_rules.yaml"), filepath.Join(dir, "falco-incubating_rules.yaml"))
	defer stop()
	before := counter(reg, "peregrine_kernel_events_total")
	start := time.Now()
	loopCPU(b, bin, 500000)
	elapsed := time.Since(start)
	time.Sleep(200 * time.Millisecond)
	b.ReportMetric((counter(reg, "peregrine_kernel_events_total")-before)/elapsed.Seconds(), "events/s")
	b.ReportMetric(counter(reg, "peregrine_kernel_drops_total"), "drops")
	b.ReportMetric(rssMiB(), "agent-RSS-MiB")
}

func counter(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// rssMiB is this process's resident memory: the agent with the full
// upstream rules loaded, plus the test binary around it.
func rssMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
