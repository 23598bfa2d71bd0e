package condition

import "testing"

// FuzzParse checks that the parser never panics, that the printed form of
// any accepted condition parses again, and that printing reaches a fixed
// point after one round (the parser folds "not not x" to x, so the first
// round may normalise).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"evt.type = open and proc.name in (bash, sh)",
		"not (a or b) and c",
		`proc.name == oneof ("x y", z)`,
		`join("-", (fd.name, fd.directory)) = /tmp`,
		"some.field = val(test.field)",
		`evt.arg["x"] = "a\tb"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := Parse(in)
		if err != nil {
			return
		}
		printed := String(e)
		e2, err := Parse(printed)
		if err != nil {
			t.Fatalf("printed form %q of %q does not parse: %v", printed, in, err)
		}
		norm := String(e2)
		e3, err := Parse(norm)
		if err != nil {
			t.Fatalf("normalised form %q does not parse: %v", norm, err)
		}
		if again := String(e3); again != norm {
			t.Fatalf("printed form not stable: %q -> %q -> %q", printed, norm, again)
		}
	})
}
