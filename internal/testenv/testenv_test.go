package testenv

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recorder is a testing.TB that says how Unavailable ended it.
type recorder struct {
	testing.TB
	ended string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.ended = "fail: " + fmt.Sprintf(format, a...) }
func (r *recorder) Skipf(format string, a ...any)  { r.ended = "skip: " + fmt.Sprintf(format, a...) }

// One rule for every helper: a missing part fails under CI or
// PEREGRINE_REQUIRE_REAL, and is skipped elsewhere.
func TestUnavailable(t *testing.T) {
	for _, c := range []struct{ ci, require, want string }{
		{"", "", "skip: no etcd"},
		{"true", "", "fail: required here (CI or PEREGRINE_REQUIRE_REAL is set): no etcd"},
		{"", "1", "fail: required here (CI or PEREGRINE_REQUIRE_REAL is set): no etcd"},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv("PEREGRINE_REQUIRE_REAL", c.require)
		r := &recorder{}
		Unavailable(r, "no %s", "etcd")
		if diff := cmp.Diff(c.want, r.ended); diff != "" {
			t.Errorf("CI=%q PEREGRINE_REQUIRE_REAL=%q (-want +got):\n%s", c.ci, c.require, diff)
		}
	}
}
