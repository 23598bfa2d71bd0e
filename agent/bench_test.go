package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
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

// BenchmarkAgentThroughput drives opens of one file as fast as one
// process can, with the upstream stable and incubating rules loaded and
// one rule more that matches those opens and nothing else, and reports the
// generator's opens the agent evaluated per second, from the generator's
// start until the last of them is evaluated (counted by that rule's
// alerts: no other process's events count); the share of them lost (a generator that only
// opens outruns the agent: the ring buffer fills and the kernel drops,
// counted), the drops, and the heap the agent holds (the agent runs in
// this process: its heap, after a GC, over the heap before it started).
func BenchmarkAgentThroughput(b *testing.B) {
	testenv.RequireKernel(b)
	bin := filepath.Join(b.TempDir(), "openloop")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/openloop").CombinedOutput(); err != nil {
		b.Fatalf("build openloop: %v %s", err, out)
	}
	target := filepath.Join(b.TempDir(), "opened")
	benchRules := filepath.Join(b.TempDir(), "bench_rules.yaml")
	os.WriteFile(target, nil, 0o644)
	os.WriteFile(benchRules, []byte("- rule: Bench open\n  desc: the generator's opens\n  condition: evt.type in (open, openat, openat2) and fd.name = "+
		target+"\n  output: opened\n  priority: DEBUG\n"), 0o644)
	heapBefore := heapMiB()
	dir := filepath.Join(conformance.Dir(b), "rules")
	stop, reg := runAgent(b, filepath.Join(dir, "falco_rules.yaml"), filepath.Join(dir, "falco-incubating_rules.yaml"), benchRules)
	defer stop()
	opens := float64(max(b.N, 1) * 500_000)
	b.ResetTimer()
	if out, err := exec.Command(bin, strconv.Itoa(int(opens)), target).Output(); err != nil {
		b.Fatalf("openloop: %v %s", err, out)
	}
	evaluated, last := 0.0, time.Now()
	for quiet := time.Now(); time.Since(quiet) < 500*time.Millisecond && evaluated < opens; time.Sleep(time.Millisecond) {
		if n := benchAlerts(reg); n > evaluated {
			evaluated, last, quiet = n, time.Now(), time.Now()
		}
	}
	b.StopTimer()
	seconds := b.Elapsed().Seconds() - time.Since(last).Seconds()
	b.ReportMetric(evaluated/seconds, "opens-evaluated/s")
	b.ReportMetric(100*(opens-evaluated)/opens, "opens-lost-%")
	b.ReportMetric(counter(reg, "peregrine_kernel_drops_total"), "drops")
	b.ReportMetric(heapMiB()-heapBefore, "agent-heap-MiB")
}

// benchAlerts counts the alerts of BenchmarkAgentThroughput's rule.
func benchAlerts(reg *prometheus.Registry) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "peregrine_alerts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "rule" && l.GetValue() == "Bench open" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// heapMiB is the heap in use after a collection.
func heapMiB() float64 {
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
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
