package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/peregrine-sec/peregrine/agent"
	"github.com/peregrine-sec/peregrine/config"
)

// agentFlags are what agent's flags override in the configuration.
type agentFlags struct {
	config                    configFlags
	format, record, serverURL string
}

func agentCmd() *cobra.Command {
	var f agentFlags
	c := &cobra.Command{
		Use:   "agent [-r RULES]... [-c FILE] [-o key=value]... [--format json|text] [--server URL]",
		Short: "Run the node agent: capture syscalls with eBPF and evaluate the syscall rules (root)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return f.run(cmd) },
	}
	f.config.add(c)
	c.Flags().StringVar(&f.format, "format", "", "alert format on stdout: json or text (default: json_output)")
	c.Flags().StringVar(&f.serverURL, "server", "", "stream alerts to this peregrine serve and take exec sessions from it (server.url; credentials in the server: section)")
	c.Flags().StringVar(&f.record, "record", "", "also save every captured event to this capture file (replay it with peregrine replay --syscalls)")
	return c
}

func (f *agentFlags) run(cmd *cobra.Command) error {
	cfg, err := f.load(cmd.OutOrStdout())
	if err != nil {
		return err
	}
	hup, stop := hangups()
	defer stop()
	o := agent.Options{Config: cfg, Hostname: hostnameOf(cfg.Hostname), Stdout: cmd.OutOrStdout(),
		Log: slog.New(slog.NewJSONHandler(os.Stderr, nil)), Registry: newRegistry(), Reopen: hup}
	if f.record != "" {
		file, err := os.Create(f.record)
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		defer file.Close()
		w := bufio.NewWriter(file)
		defer w.Flush()
		o.Record = w
	}
	return agent.Run(cmd.Context(), o)
}

// load reads the configuration with the flags applied.
func (f *agentFlags) load(stdout io.Writer) (*config.Config, error) {
	cfg, err := f.config.load(stdout)
	if err != nil {
		return nil, err
	}
	if f.serverURL != "" {
		cfg.Server.URL = f.serverURL
	}
	if cfg.Server.NodeName == "" {
		cfg.Server.NodeName = os.Getenv("NODE_NAME") // the downward API, in the DaemonSet
	}
	switch f.format {
	case "json":
		cfg.JSONOutput = true
	case "text":
		cfg.JSONOutput = false
	}
	return cfg, nil
}
