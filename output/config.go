package output

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
)

// FormatOf maps the json_* options of the configuration.
func FormatOf(c *config.Config) Format {
	return Format{
		JSON:                c.JSONOutput,
		IncludeOutput:       c.JSONIncludeOutputProperty,
		IncludeTags:         c.JSONIncludeTagsProperty,
		IncludeMessage:      c.JSONIncludeMessageProperty,
		IncludeOutputFields: c.JSONIncludeOutputFieldsProperty,
		TimeFormatISO8601:   c.TimeFormatISO8601,
	}
}

// Env is what outputs take from the process that runs them.
type Env struct {
	Stdout   io.Writer // stdout_output writes here
	Registry prometheus.Registerer
	Log      *slog.Logger
	// Reopen, when set, reopens the file outputs at every receive: the
	// commands send SIGHUP here, which is how log rotation asks.
	Reopen <-chan os.Signal
}

// Build opens every enabled output of the configuration. Extra sinks (an
// agent's stream to the service) join them.
func Build(c *config.Config, env Env, extra ...Sink) (*Outputs, error) {
	var sinks []SinkConfig
	add := func(s Sink) {
		sinks = append(sinks, SinkConfig{Sink: s, MinPriority: c.Priority, QueueSize: c.OutputsQueue.Capacity})
	}
	if c.StdoutOutput.Enabled {
		add(NewWriter("stdout", env.Stdout))
	}
	if c.FileOutput.Enabled {
		f, err := newFile(c.FileOutput.Filename)
		if err != nil {
			return nil, err
		}
		add(f)
	}
	if c.SyslogOutput.Enabled {
		s, err := newSyslog(c.SyslogOutput.Network, c.SyslogOutput.Address)
		if err != nil {
			return nil, err
		}
		add(s)
	}
	if c.HTTPOutput.Enabled {
		h := c.HTTPOutput
		s, err := newHTTP(httpConfig{URL: h.URL, UserAgent: h.UserAgent, Insecure: h.Insecure,
			CACert: h.CACert, MTLS: h.MTLS, ClientCert: h.ClientCert, ClientKey: h.ClientKey,
			JSON: c.JSONOutput, Retries: h.Retries, Timeout: h.Timeout})
		if err != nil {
			return nil, err
		}
		add(s)
	}
	if c.ProgramOutput.Enabled {
		add(newProgram(c.ProgramOutput.Program))
	}
	for _, s := range extra {
		add(s)
	}
	if len(sinks) == 0 {
		return nil, fmt.Errorf("no output enabled: alerts would go nowhere (enable stdout_output, file_output, ...)")
	}
	o := New(FormatOf(c), sinks, env.Registry, env.Log)
	o.reopen = env.Reopen
	return o, nil
}
