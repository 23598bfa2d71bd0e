package lifecycle

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

// journal records the order in which runnables stop.
type journal struct {
	mu      sync.Mutex
	stopped []string
}

func (j *journal) add(name string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stopped = append(j.stopped, name)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.stopped)
}

// member runs until its context ends, then records that it stopped.
func (j *journal) member(name string) Loop {
	return func(ctx context.Context) {
		<-ctx.Done()
		j.add(name)
	}
}

// failing returns err at once, recording it.
func (j *journal) failing(name string, err error) Func {
	return func(context.Context) error {
		j.add(name)
		return err
	}
}

var errBoom = errors.New("boom")

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		stages  func(j *journal) []Stage
		cancel  bool // end ctx instead of waiting for a failure
		want    []string
		wantErr error
	}{{
		name: "ctx ends: inner stages stop first",
		stages: func(j *journal) []Stage {
			return []Stage{{j.member("outputs")}, {j.member("workers")}, {j.member("listener")}}
		},
		cancel: true,
		want:   []string{"listener", "workers", "outputs"},
	}, {
		name: "an inner failure stops everything, inside out",
		stages: func(j *journal) []Stage {
			return []Stage{{j.member("outputs")}, {j.member("workers")}, {j.failing("listener", errBoom)}}
		},
		want:    []string{"listener", "workers", "outputs"},
		wantErr: errBoom,
	}, {
		name: "an outer failure stops the inner stages before the rest of its own",
		stages: func(j *journal) []Stage {
			return []Stage{{j.failing("outputs", errBoom)}, {j.member("listener")}}
		},
		want:    []string{"outputs", "listener"},
		wantErr: errBoom,
	}, {
		name: "one stage",
		stages: func(j *journal) []Stage {
			return []Stage{{j.member("a")}}
		},
		cancel: true,
		want:   []string{"a"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			j := &journal{}
			err := Run(ctx, tt.stages(j)...)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Run = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, j.list()); diff != "" {
				t.Errorf("stop order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunNothing(t *testing.T) {
	if err := Run(t.Context()); err != nil {
		t.Fatal(err)
	}
}
