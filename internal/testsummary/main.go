// Command testsummary reads `go test -json` on stdin and prints what
// `go test` prints (each package's result line, the output of failed
// tests, build errors), then one line that is always there:
//
//	skipped: N tests
//
// followed by each skipped test and the reason it gave, so that a run that
// passes while skipping what matters is visible. It exits 1 when anything
// failed. make test pipes into it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

type event struct {
	Action, Package, Test, Output string
	ImportPath                    string // build-output, build-fail
}

type skip struct{ test, reason string }

func main() {
	failed, skips, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	fmt.Printf("skipped: %d tests\n", len(skips))
	for _, s := range skips {
		fmt.Printf("  %s: %s\n", s.test, s.reason)
	}
	if failed {
		os.Exit(1)
	}
}

// summarize copies the result lines to w and returns whether anything
// failed and what was skipped.
func summarize(r io.Reader, w io.Writer) (failed bool, skips []skip, err error) {
	outputs := map[string][]string{} // a running test's output, by package and test
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(w, sc.Text()) // not an event: go vet or the toolchain speaking
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Action == "build-fail":
			failed = true
		case e.Test == "" && e.Action == "output" && e.Output != "PASS\n":
			fmt.Fprint(w, e.Output)
		case e.Test == "":
			failed = failed || e.Action == "fail"
		case e.Action == "output":
			outputs[key] = append(outputs[key], e.Output)
		case e.Action == "fail":
			failed = true
			fmt.Fprint(w, strings.Join(outputs[key], ""))
			delete(outputs, key)
		case e.Action == "skip":
			skips = append(skips, skip{test: e.Package + "." + e.Test, reason: reason(outputs[key])})
			delete(outputs, key)
		case e.Action == "pass":
			delete(outputs, key)
		}
	}
	return failed, skips, sc.Err()
}

// reason is what a skipped test said: its output without the framing lines.
func reason(lines []string) string {
	var said []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		said = append(said, t)
	}
	if len(said) == 0 {
		return "(no reason given)"
	}
	return strings.Join(said, " ")
}
