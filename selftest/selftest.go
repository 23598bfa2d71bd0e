package selftest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options say where the installation is and what to run.
type Options struct {
	Config *rest.Config
	// Image has sh and sleep (busybox); PullPolicy as the cluster needs.
	Image      string
	PullPolicy corev1.PullPolicy
	// ServiceNamespace and ServiceSelector find the service's pods, whose
	// output (stdout_output, JSON) is read for the alerts.
	ServiceNamespace, ServiceSelector string
	Timeout                           time.Duration // for each alert, and for the pod to start
	Out                               io.Writer
}

// check is one expected alert.
type check struct {
	Source, Rule string
	Seen         bool
	Latency      time.Duration // from the trigger to the alert in the service's output
	sent         time.Time
}

// podName names the throwaway pod; its namespace is generated.
const podName = "selftest"

// Run triggers the checks, waits for their alerts, prints a table and
// returns an error when one is missing.
func Run(ctx context.Context, o Options) error {
	client, err := kubernetes.NewForConfig(o.Config)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "peregrine-selftest-"}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create namespace: %w", err)
	}
	defer client.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), ns.Name, metav1.DeleteOptions{})
	s := &run{o: o, client: client, ns: ns.Name, seen: make(chan alert, 64)}
	defer s.scans.Wait()
	watchCtx, stop := context.WithCancel(ctx) // stopped first: the scans end
	defer stop()
	if err := s.watchService(watchCtx); err != nil {
		return err
	}
	checks, err := s.trigger(ctx)
	if err != nil {
		return err
	}
	s.await(ctx, checks)
	return report(o.Out, ns.Name, checks)
}

type run struct {
	o      Options
	client kubernetes.Interface
	ns     string
	seen   chan alert
	scans  sync.WaitGroup // one per service pod's log stream
}

// alert is what the check reads of an alert line.
type alert struct {
	Rule         string         `json:"rule"`
	Source       string         `json:"source"`
	OutputFields map[string]any `json:"output_fields"`
	at           time.Time
}

// about reports whether the alert concerns the throwaway pod.
func (a alert) about(ns string) bool {
	return a.OutputFields["ka.target.namespace"] == ns || a.OutputFields["k8s.ns.name"] == ns
}

// await waits for every check's alert, up to the timeout after the last
// trigger.
func (s *run) await(ctx context.Context, checks []*check) {
	deadline := time.NewTimer(s.o.Timeout)
	defer deadline.Stop()
	for !allSeen(checks) {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case a := <-s.seen:
			for _, c := range checks {
				if !c.Seen && c.Rule == a.Rule && c.Source == a.Source {
					c.Seen, c.Latency = true, max(0, a.at.Sub(c.sent))
				}
			}
		}
	}
}

func allSeen(checks []*check) bool {
	return !slices.ContainsFunc(checks, func(c *check) bool { return !c.Seen })
}

// watchService follows the output of every pod of the service from now on.
func (s *run) watchService(ctx context.Context) error {
	pods, err := s.client.CoreV1().Pods(s.o.ServiceNamespace).List(ctx, metav1.ListOptions{LabelSelector: s.o.ServiceSelector})
	if err != nil {
		return fmt.Errorf("find the service's pods: %w", err)
	}
	if len(pods.Items) == 0 {
		return fmt.Errorf("no pod of the service in %s matches %s", s.o.ServiceNamespace, s.o.ServiceSelector)
	}
	since := metav1.NewTime(time.Now().Add(-time.Second))
	for _, p := range pods.Items {
		req := s.client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Follow: true, SinceTime: &since})
		r, err := req.Stream(ctx)
		if err != nil {
			return fmt.Errorf("read the output of %s/%s: %w", p.Namespace, p.Name, err)
		}
		s.scans.Go(func() { s.scan(ctx, r) })
	}
	return nil
}

// scan reads alerts about the throwaway namespace until the stream or ctx
// ends.
func (s *run) scan(ctx context.Context, r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var a alert
		if json.Unmarshal(sc.Bytes(), &a) != nil || a.Rule == "" || !a.about(s.ns) {
			continue
		}
		a.at = time.Now()
		select {
		case s.seen <- a:
		case <-ctx.Done():
			return
		}
	}
}

func report(w io.Writer, ns string, checks []*check) error {
	fmt.Fprintf(w, "%-14s %-45s %-5s %s\n", "SOURCE", "RULE", "SEEN", "LATENCY")
	missing := 0
	for _, c := range checks {
		lat := "-"
		if c.Seen {
			lat = c.Latency.Round(time.Millisecond).String()
		} else {
			missing++
		}
		fmt.Fprintf(w, "%-14s %-45s %-5t %s\n", c.Source, c.Rule, c.Seen, lat)
	}
	if missing > 0 {
		return fmt.Errorf("selftest: %d of %d alerts did not come back (namespace %s)", missing, len(checks), ns)
	}
	return nil
}
