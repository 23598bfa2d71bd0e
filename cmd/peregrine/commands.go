package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/replay"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/webhook"
)

// extracted says which fields the sources built into this binary read.
func extracted(source, field string) bool {
	switch source {
	case fields.SourceSyscall:
		return runtime.Extracted(field)
	case fields.SourceK8sAudit:
		return audit.Extracted(field)
	case fields.SourceK8sAdmission:
		return webhook.Extracted(field)
	}
	return false
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "peregrine",
		Short:         "Kubernetes runtime security with Falco's rule language",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRulesCommand(), replayCmd(), serveCmd(), agentCmd(), runCmd(), versionCmd(), auditConfigCmd(), selftestCmd(), alertsCmd(), sessionsCmd())
	return root
}

func replayCmd() *cobra.Command {
	o := replay.Options{}
	var admissionMode string
	c := &cobra.Command{
		Use:   "replay -r RULES... --audit FILE...",
		Short: "Run rules over recorded events and print the alerts, one per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.AuditFiles)+len(o.AdmissionFiles)+len(o.SyscallFiles) == 0 {
				return fmt.Errorf("nothing to replay: give --audit, --admission or --syscalls FILE (- for stdin)")
			}
			mode, err := webhook.ParseMode(admissionMode)
			if err != nil {
				return err
			}
			o.Admission.Mode = mode
			o.In, o.Out, o.Err = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			o.Hostname = hostname()
			if os.Getenv("GOGC") == "" {
				// Replay keeps little alive (one event at a time) and
				// allocates a few objects per event: collecting at 5x the
				// live heap rather than 2x is ~7% faster on a real audit
				// log, for ~20 MiB more resident memory.
				debug.SetGCPercent(400)
			}
			return replay.Run(cmd.Context(), o)
		},
	}
	c.Flags().StringArrayVarP(&o.RulesFiles, "rules", "r", nil, "rules file or directory (repeatable; default: the built-in rules)")
	c.Flags().StringArrayVar(&o.AuditFiles, "audit", nil, "audit events: EventList, Event, JSON array or JSON lines (repeatable; - for stdin)")
	c.Flags().StringArrayVar(&o.AdmissionFiles, "admission", nil, "AdmissionReview requests: JSON or JSON lines (repeatable; - for stdin)")
	c.Flags().StringArrayVar(&o.SyscallFiles, "syscalls", nil, "syscall captures of peregrine agent --record (repeatable; - for stdin)")
	c.Flags().StringVar(&admissionMode, "admission-mode", "enforce", "admission mode for --admission: enforce, warn or audit")
	c.Flags().StringVar(&o.Format, "format", "json", "alert format: json or text")
	c.Flags().BoolVar(&o.MatchAll, "match-all", false, "report every matching rule, not only the first (rule_matching: all)")
	return c
}

// hostname is what alerts carry: $FALCO_HOSTNAME as in Falco, else the
// machine's name.
func hostname() string {
	if h := os.Getenv("FALCO_HOSTNAME"); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}

func newRulesCommand() *cobra.Command {
	rules := &cobra.Command{Use: "rules", Short: "Validate, inspect and list rules and fields"}
	rules.AddCommand(validateCmd(), parseCmd(), showCmd(), listCmd(), fieldsCmd())
	return rules
}

// rulesFlags adds -r/--rules and --format, shared by the rules commands.
func rulesFlags(c *cobra.Command, paths *[]string, format *string) {
	c.Flags().StringArrayVarP(paths, "rules", "r", nil, "rules file or directory (repeatable; default: the built-in rules)")
	c.Flags().StringVar(format, "format", "text", "output format: text or json")
}

func validateCmd() *cobra.Command {
	o := inspect.ValidateOptions{}
	c := &cobra.Command{
		Use:   "validate -r PATH...",
		Short: "Validate rule files like falco -V (exit 1 on errors)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			return inspect.Validate(o)
		},
	}
	rulesFlags(c, &o.Paths, &o.Format)
	return c
}

func parseCmd() *cobra.Command {
	o := inspect.ParseOptions{}
	c := &cobra.Command{
		Use:   "parse CONDITION... (- reads one per line from stdin)",
		Short: "Check the syntax of conditions and print their AST",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Conditions, o.In, o.Out = args, cmd.InOrStdin(), cmd.OutOrStdout()
			return inspect.Parse(o)
		},
	}
	c.Flags().StringVar(&o.Format, "format", "text", "output format: text or json")
	return c
}

func showCmd() *cobra.Command {
	o := inspect.ShowOptions{}
	c := &cobra.Command{
		Use:   "show -r PATH... [--rule NAME]",
		Short: "Print each rule's fully expanded condition and final output",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			return inspect.Show(o)
		},
	}
	rulesFlags(c, &o.Paths, &o.Format)
	c.Flags().StringVar(&o.Rule, "rule", "", "only this rule")
	return c
}

func listCmd() *cobra.Command {
	o := inspect.ShowOptions{}
	c := &cobra.Command{
		Use:   "list [-r PATH...]",
		Short: "List the loaded rules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			return inspect.List(o)
		},
	}
	rulesFlags(c, &o.Paths, &o.Format)
	return c
}

func fieldsCmd() *cobra.Command {
	o := inspect.FieldsOptions{}
	c := &cobra.Command{
		Use:   "fields [--source S]",
		Short: "Print the field catalogue of each source, and which fields are extracted yet",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out, o.Extracted = cmd.OutOrStdout(), extracted
			return inspect.Fields(o)
		},
	}
	c.Flags().StringVar(&o.Source, "source", "", "only this source: syscall, k8s_audit or k8s_admission")
	c.Flags().StringVar(&o.Format, "format", "text", "output format: text or json")
	return c
}
