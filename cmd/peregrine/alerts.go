package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/peregrine-sec/peregrine/certs"
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

// historyFlags choose where alerts and sessions are read from, and how
// they are printed.
type historyFlags struct {
	server, db, format string
	caFile, tokenFile  string
	vals               map[string]*string
}

func (h *historyFlags) register(c *cobra.Command, filters []struct{ name, usage string }) {
	f := c.Flags()
	f.StringVar(&h.server, "server", "http://127.0.0.1:8765", "the service's webserver")
	f.StringVar(&h.db, "db", "", "read this store file instead of a service")
	f.StringVar(&h.format, "format", "json", "json or text")
	f.StringVar(&h.caFile, "ca-file", "", "verify an https --server with this CA")
	f.StringVar(&h.tokenFile, "token-file", "", "send the bearer token this file holds (webserver.tokens_file)")
	h.vals = map[string]*string{}
	for _, flt := range filters {
		h.vals[flt.name] = f.String(flt.name, "", flt.usage)
	}
}

// reader checks the format and gives the filters as query parameters and
// the store file or the service to ask; done closes the file.
func (h *historyFlags) reader() (url.Values, store.Reader, func(), error) {
	if h.format != "json" && h.format != "text" {
		return nil, nil, nil, fmt.Errorf("unknown format %q (want json or text)", h.format)
	}
	v := url.Values{}
	for name, s := range h.vals {
		if *s != "" {
			v.Set(name, *s)
		}
	}
	if h.db == "" {
		r, err := h.remote()
		return v, r, func() {}, err
	}
	s, err := store.OpenReadOnly(h.db)
	if err != nil {
		return nil, nil, nil, err
	}
	return v, s, func() { s.Release() }, nil
}

// remote is the service at --server, with --ca-file and --token-file.
func (h *historyFlags) remote() (store.Reader, error) {
	tlsCfg, err := certs.ClientTLS(h.caFile, "", "")
	if err != nil {
		return nil, err
	}
	token := ""
	if h.tokenFile != "" {
		b, err := os.ReadFile(h.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	return store.Remote(h.server, client, token), nil
}

func alertsCmd() *cobra.Command {
	return historyCmd("alerts", "List stored alerts, newest first, from a running service or a store file", alertFilters,
		store.ParseQuery, store.Reader.Alerts, store.Print)
}

func sessionsCmd() *cobra.Command {
	return historyCmd("sessions", "List exec sessions (who ran kubectl exec where, admitted or not), newest first", sessionFilters,
		store.ParseSessionQuery, store.Reader.Sessions, store.PrintSessions)
}

// historyCmd is a command that reads one page of what the store holds: the
// filters parsed as the API parses them, asked of a file or a service,
// printed a line each.
func historyCmd[Q, P any](name, short string, filters []struct{ name, usage string }, parse func(url.Values) (Q, error),
	ask func(store.Reader, context.Context, Q) (P, error), print func(P, string, io.Writer, io.Writer) error) *cobra.Command {
	var h historyFlags
	c := &cobra.Command{
		Use:   name + " [--server URL | --db FILE] [filters]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, r, done, err := h.reader()
			if err != nil {
				return err
			}
			defer done()
			q, err := parse(v)
			if err != nil {
				return err
			}
			page, err := ask(r, cmd.Context(), q)
			if err != nil {
				return err
			}
			return print(page, h.format, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	h.register(c, filters)
	return c
}

// sessionFilters are /api/v1/sessions' filters, as flags.
var sessionFilters = []struct{ name, usage string }{
	{"user", "by this Kubernetes user"},
	{"namespace", "in this namespace"},
	{"pod", "into this pod"},
	{"since", "at or after this time (RFC 3339)"},
	{"limit", "how many (default 100, at most 1000)"},
	{"cursor", "the page after the one that gave this cursor"},
}
