package main

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/peregrine-sec/peregrine/store"
)

// alertFilters are the API's filters, as flags of the same names.
var alertFilters = []struct{ name, usage string }{
	{"since", "alerts at or after this time (RFC 3339)"},
	{"until", "alerts at or before this time (RFC 3339)"},
	{"source", "syscall, k8s_audit or k8s_admission"},
	{"priority", "at least this priority (emergency ... debug)"},
	{"rule", "this rule (exact name)"},
	{"namespace", "in this namespace"},
	{"pod", "about this pod"},
	{"user", "by this Kubernetes user (ka.user.name or k8s.exec.user)"},
	{"session", "of this exec session (k8s.exec.id)"},
	{"q", "with this text in the output"},
	{"limit", "how many (default 100, at most 1000)"},
	{"cursor", "the page after the one that gave this cursor"},
}

func alertsCmd() *cobra.Command {
	var server, db, format string
	vals := map[string]*string{}
	c := &cobra.Command{
		Use:   "alerts [--server URL | --db FILE] [filters]",
		Short: "List stored alerts, newest first, from a running service or a store file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" && format != "text" {
				return fmt.Errorf("unknown format %q (want json or text)", format)
			}
			v := url.Values{}
			for name, s := range vals {
				if *s != "" {
					v.Set(name, *s)
				}
			}
			q, err := store.ParseQuery(v)
			if err != nil {
				return err
			}
			var r store.Reader = store.Remote(server, &http.Client{Timeout: 30 * time.Second})
			if db != "" {
				s, err := store.OpenReadOnly(db)
				if err != nil {
					return err
				}
				defer s.Release()
				r = s
			}
			page, err := r.Alerts(cmd.Context(), q)
			if err != nil {
				return err
			}
			return store.Print(page, format, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&server, "server", "http://127.0.0.1:8765", "the service's webserver")
	f.StringVar(&db, "db", "", "read this store file instead of a service")
	f.StringVar(&format, "format", "json", "json (as the outputs write alerts) or text (their output line)")
	for _, flt := range alertFilters {
		vals[flt.name] = f.String(flt.name, "", flt.usage)
	}
	return c
}
