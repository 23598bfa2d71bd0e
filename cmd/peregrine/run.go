package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/peregrine-sec/peregrine/allinone"
	"github.com/peregrine-sec/peregrine/output"
)

func runCmd() *cobra.Command {
	var cf configFlags
	c := &cobra.Command{
		Use:   "run [-c FILE] [-o key=value]...",
		Short: "Everything on this machine: the service (audit, admission) and the node agent, alerts on stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			outs, files, err := output.Build(cfg, cmd.OutOrStdout(), reg, log)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			outCtx, stopOutputs := context.WithCancel(context.WithoutCancel(ctx))
			outDone := make(chan error, 1)
			go func() { outDone <- outs.Start(outCtx) }()
			go reopenOnHangup(ctx, files, log)
			err = allinone.Run(ctx, allinone.Options{Config: cfg, Hostname: hostnameOf(cfg.Hostname),
				Stdout: cmd.OutOrStdout(), Log: log, Registry: reg, Outputs: outs})
			stopOutputs()
			<-outDone
			return err
		},
	}
	cf.add(c)
	return c
}

// reopenOnHangup reopens the file outputs on SIGHUP (log rotation).
func reopenOnHangup(ctx context.Context, files []*output.File, log *slog.Logger) {
	hup := hangups()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			for _, f := range files {
				if err := f.Reopen(); err != nil {
					log.Error("reopening alert file", "err", err)
				}
			}
		}
	}
}
