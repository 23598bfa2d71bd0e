package output

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
)

// programSink pipes alerts, one per line, to a shell command's standard input
// (program_output). The command is started on the first alert and again
// whenever it has died.
type programSink struct {
	command string
	mu      sync.Mutex
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	done    chan struct{}
}

// newProgram returns a sink for command, run with sh -c.
func newProgram(command string) *programSink { return &programSink{command: command} }

// Name implements Sink.
func (s *programSink) Name() string { return "program" }

func (s *programSink) start() error {
	cmd := exec.Command("/bin/sh", "-c", s.command)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("program output: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("program output: start %q: %w", s.command, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.stdin, s.done = cmd, stdin, done
	return nil
}

func (s *programSink) alive() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Send implements Sink. A write to a program that died restarts it and
// writes the line again, once.
func (s *programSink) Send(_ context.Context, line []byte, _ *Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if !s.alive() {
			if err := s.start(); err != nil {
				return err
			}
		}
		if _, err := s.stdin.Write(line); err == nil {
			return nil
		}
		_ = s.stdin.Close()
		<-s.done
	}
	return fmt.Errorf("program output: %q keeps exiting", s.command)
}

// Close implements Sink: it closes the program's input and waits for it.
func (s *programSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	_ = s.stdin.Close()
	<-s.done
	return nil
}
