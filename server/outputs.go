package server

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/output"
)

// formatOf maps the json_* options.
func formatOf(c *config.Config) output.Format {
	return output.Format{
		JSON:                c.JSONOutput,
		IncludeOutput:       c.JSONIncludeOutputProperty,
		IncludeTags:         c.JSONIncludeTagsProperty,
		IncludeMessage:      c.JSONIncludeMessageProperty,
		IncludeOutputFields: c.JSONIncludeOutputFieldsProperty,
		TimeFormatISO8601:   c.TimeFormatISO8601,
	}
}

// buildOutputs opens every enabled output of the configuration. files
// returns the file sinks, which SIGHUP reopens.
func buildOutputs(c *config.Config, stdout io.Writer, reg prometheus.Registerer, log *slog.Logger) (*output.Outputs, []*output.File, error) {
	var sinks []output.SinkConfig
	var files []*output.File
	add := func(s output.Sink) {
		sinks = append(sinks, output.SinkConfig{Sink: s, MinPriority: c.Priority, QueueSize: c.OutputsQueue.Capacity})
	}
	if c.StdoutOutput.Enabled {
		add(output.NewWriter("stdout", stdout))
	}
	if c.FileOutput.Enabled {
		f, err := output.NewFile(c.FileOutput.Filename)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f)
		add(f)
	}
	if c.SyslogOutput.Enabled {
		s, err := output.NewSyslog(c.SyslogOutput.Network, c.SyslogOutput.Address)
		if err != nil {
			return nil, nil, err
		}
		add(s)
	}
	if c.HTTPOutput.Enabled {
		h := c.HTTPOutput
		s, err := output.NewHTTP(output.HTTPConfig{URL: h.URL, UserAgent: h.UserAgent, Insecure: h.Insecure,
			CACert: h.CACert, MTLS: h.MTLS, ClientCert: h.ClientCert, ClientKey: h.ClientKey,
			JSON: c.JSONOutput, Retries: h.Retries, Timeout: h.Timeout})
		if err != nil {
			return nil, nil, err
		}
		add(s)
	}
	if c.ProgramOutput.Enabled {
		add(output.NewProgram(c.ProgramOutput.Program))
	}
	if len(sinks) == 0 {
		return nil, nil, fmt.Errorf("no output enabled: alerts would go nowhere (enable stdout_output, file_output, ...)")
	}
	return output.New(formatOf(c), sinks, reg, log), files, nil
}
