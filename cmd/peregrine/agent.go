package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/peregrine-sec/peregrine/agent"
)

func agentCmd() *cobra.Command {
	var cf configFlags
	var rulesFiles []string
	var format, record, serverURL string
	c := &cobra.Command{
		Use:   "agent [-r RULES...] [-c FILE] [-o key=value]... [--format json|text] [--server URL]",
		Short: "Run the node agent: capture syscalls with eBPF and evaluate the syscall rules (root)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			if len(rulesFiles) > 0 {
				cfg.RulesFiles = rulesFiles
			}
			if serverURL != "" {
				cfg.Server.URL = serverURL
			}
			if cfg.Server.NodeName == "" {
				cfg.Server.NodeName = os.Getenv("NODE_NAME") // the downward API, in the DaemonSet
			}
			switch format {
			case "json":
				cfg.JSONOutput = true
			case "text":
				cfg.JSONOutput = false
			}
			hup, stop := hangups()
			defer stop()
			o := agent.Options{Config: cfg, Hostname: hostnameOf(cfg.Hostname), Stdout: cmd.OutOrStdout(),
				Log: slog.New(slog.NewJSONHandler(os.Stderr, nil)), Registry: newRegistry(), Reopen: hup}
			if record != "" {
				f, err := os.Create(record)
				if err != nil {
					return fmt.Errorf("record: %w", err)
				}
				defer f.Close()
				w := bufio.NewWriter(f)
				defer w.Flush()
				o.Record = w
			}
			return agent.Run(cmd.Context(), o)
		},
	}
	cf.add(c)
	c.Flags().StringArrayVarP(&rulesFiles, "rules", "r", nil, "rules file or directory (repeatable; default: rules_files, else the built-in rules)")
	c.Flags().StringVar(&format, "format", "", "alert format on stdout: json or text (default: json_output)")
	c.Flags().StringVar(&serverURL, "server", "", "stream alerts to this peregrine serve and take exec sessions from it (server.url; credentials in the server: section)")
	c.Flags().StringVar(&record, "record", "", "also save every captured event to this capture file (replay it with peregrine replay --syscalls)")
	return c
}
