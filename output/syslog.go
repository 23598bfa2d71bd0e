package output

import (
	"context"
	"fmt"
	"log/syslog"
)

// syslogSink sends alerts to the local syslog daemon (syslog_output), at the
// syslog severity equal to the rule priority, as Falco does.
type syslogSink struct {
	w *syslog.Writer
}

// newSyslog connects to syslog; network and addr empty mean the local
// socket.
func newSyslog(network, addr string) (*syslogSink, error) {
	w, err := syslog.Dial(network, addr, syslog.LOG_USER|syslog.LOG_NOTICE, "peregrine")
	if err != nil {
		return nil, fmt.Errorf("connect to syslog: %w", err)
	}
	return &syslogSink{w: w}, nil
}

// Name implements Sink.
func (s *syslogSink) Name() string { return "syslog" }

// Send implements Sink.
func (s *syslogSink) Send(_ context.Context, line []byte, a *Alert) error {
	msg := string(line[:len(line)-1])
	switch a.Priority {
	case 0:
		return s.w.Emerg(msg)
	case 1:
		return s.w.Alert(msg)
	case 2:
		return s.w.Crit(msg)
	case 3:
		return s.w.Err(msg)
	case 4:
		return s.w.Warning(msg)
	case 5:
		return s.w.Notice(msg)
	case 6:
		return s.w.Info(msg)
	}
	return s.w.Debug(msg)
}

// Close implements Sink.
func (s *syslogSink) Close() error { return s.w.Close() }
