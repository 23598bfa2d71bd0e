package main

import (
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/server"
)

// configFlags are -c, -o and -r, shared by the commands that run
// services.
type configFlags struct {
	file       string
	overrides  []string
	rulesFiles []string
}

func (f *configFlags) add(c *cobra.Command) {
	c.Flags().StringVarP(&f.file, "config", "c", "", "configuration file (falco.yaml-shaped; see peregrine.yaml)")
	c.Flags().StringArrayVarP(&f.overrides, "option", "o", nil, "override a configuration key: -o key.sub=value (repeatable)")
	c.Flags().StringArrayVarP(&f.rulesFiles, "rules", "r", nil,
		"rules file or directory, in place of rules_files (repeatable; default: rules_files, else the built-in rules)")
}

// load reads the configuration, then applies -o, then -r (as Falco does:
// -r replaces rules_files whatever the file or -o said). Alerts are text
// when stdout is a terminal and json_output is not set.
func (f *configFlags) load(stdout io.Writer) (*config.Config, error) {
	cfg, err := config.Load(f.file, f.overrides)
	if err != nil {
		return nil, err
	}
	if len(f.rulesFiles) > 0 {
		cfg.RulesFiles = f.rulesFiles
	}
	out, ok := stdout.(*os.File)
	cfg.TextOnTerminal(ok && term.IsTerminal(int(out.Fd())))
	return cfg, nil
}

func serveCmd() *cobra.Command {
	var cf configFlags
	c := &cobra.Command{
		Use:   "serve [-r RULES]... [-c FILE] [-o key=value]...",
		Short: "Run the central service: the audit webhook endpoint, alert outputs, health and metrics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			hup, stop := hangups()
			defer stop()
			return server.Run(cmd.Context(), server.Options{
				Config: cfg, Hostname: hostnameOf(cfg.Hostname), Stdout: cmd.OutOrStdout(),
				Log: slog.New(slog.NewJSONHandler(os.Stderr, nil)), Registry: newRegistry(), Reopen: hup,
			})
		},
	}
	cf.add(c)
	return c
}

// hangups delivers SIGHUP, with which log rotation asks the file outputs
// to reopen, until stop; without it SIGHUP would end the process.
func hangups() (<-chan os.Signal, func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	return sig, func() { signal.Stop(sig) }
}

// newRegistry is the metrics registry of a command that serves them, with
// the Go runtime's and the process's metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func hostnameOf(configured string) string {
	if configured != "" {
		return configured
	}
	return hostname()
}
