package allinone

import (
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/agent"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// TestMetricsListed: every series the README's Metrics section names is
// registered by serve (with agents and their token review, admission and
// the history) or by an
// agent streaming to it, whether or not it has samples yet.
func TestMetricsListed(t *testing.T) {
	testenv.RequireKernel(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	section = section[strings.Index(section, "### Metrics"):]
	section = section[:strings.Index(section[1:], "\n#")+1]
	names := regexp.MustCompile("`(peregrine_[a-z_]+)`").FindAllStringSubmatch(section, -1)
	if len(names) < 30 {
		t.Fatalf("%d series in the README's Metrics section: section not found", len(names))
	}
	ca := testpki.NewCA(t)
	serveReg, agentReg := prometheus.NewRegistry(), prometheus.NewRegistry()
	url := "https://127.0.0.1:" + strconv.Itoa(kubetest.FreePort(t)) + "/agent/v1/stream"
	startReplica(t, ca, kubetest.FreePort(t), []string{url}, 0, io.Discard, serveReg, "agents.token_audience=peregrine")
	cert, key := ca.Client(t, "peregrine-agent", "")
	cfg, err := config.Load("", []string{"server.url=" + url, "server.ca_file=" + ca.CertPEM, "server.cert_file=" + cert,
		"server.key_file=" + key, "server.node_name=node-1", "stdout_output.enabled=false"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.New(agent.Options{Config: cfg, Hostname: "node-1", Log: slog.New(slog.DiscardHandler), Registry: agentReg}); err != nil {
		t.Fatal(err)
	}
	for _, m := range names {
		if !registered(serveReg, m[1]) && !registered(agentReg, m[1]) {
			t.Errorf("%s: in the README, registered by neither serve nor agent", m[1])
		}
	}
}

// registered says whether reg has a collector of that name: registering
// another one of it fails.
func registered(reg *prometheus.Registry, name string) bool {
	probe := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "probe"})
	if err := reg.Register(probe); err != nil {
		return true
	}
	reg.Unregister(probe)
	return false
}
