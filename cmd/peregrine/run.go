package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/peregrine-sec/peregrine/allinone"
)

func runCmd() *cobra.Command {
	var cf configFlags
	c := &cobra.Command{
		Use:   "run [-r RULES]... [-c FILE] [-o key=value]...",
		Short: "Everything on this machine: the service (audit, admission) and the node agent, alerts on stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			hup, stop := hangups()
			defer stop()
			return allinone.Run(cmd.Context(), allinone.Options{Config: cfg, Hostname: hostnameOf(cfg.Hostname),
				Stdout: cmd.OutOrStdout(), Log: slog.New(slog.NewJSONHandler(os.Stderr, nil)), Registry: newRegistry(),
				Reopen: hup})
		},
	}
	cf.add(c)
	return c
}
