// Package conformance locates Falco's compatibility corpus (shared/conformance)
// for tests. The corpus is read where it lies, never copied into the tree.
//
// The directory is $PEREGRINE_CONFORMANCE, or ../shared/conformance relative
// to the module root. When it is missing, tests skip on a developer machine
// but fail under CI (testenv.Unavailable), so the corpus can never silently
// drop out of a run.
package conformance

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/testenv"
)

// Dir returns the corpus directory, skipping or failing t when it is absent.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PEREGRINE_CONFORMANCE")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("conformance: %v", err)
		}
		dir = filepath.Join(root, "..", "shared", "conformance")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		testenv.Unavailable(t, "conformance corpus not found at %s (set PEREGRINE_CONFORMANCE): %v", dir, err)
	}
	return dir
}

// Load decodes the JSON file name of the corpus into v.
func Load(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("conformance: %s: %v", name, err)
	}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// RealTraffic is the audit corpus recorded from a real cluster
// (audit/testdata/realtraffic.jsonl.gz, made by
// internal/realnode/record-audit.sh), as JSON lines: what the audit
// benchmarks run on.
func RealTraffic(tb testing.TB) []byte {
	tb.Helper()
	root, err := moduleRoot()
	if err != nil {
		tb.Fatalf("real traffic: %v", err)
	}
	f, err := os.Open(filepath.Join(root, "audit", "testdata", "realtraffic.jsonl.gz"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("real traffic: %v", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("real traffic: %v", err)
	}
	return data
}
