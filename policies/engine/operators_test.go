package engine

import "testing"

// TestOperatorForms: a check against a constant and the same check
// between two runtime values agree, for every operator and kind they share.
func TestOperatorForms(t *testing.T) {
	strs := []struct {
		op, l, r string
		want     bool
	}{
		{"=", "bash", "bash", true}, {"==", "bash", "sh", false}, {"!=", "bash", "sh", true},
		{"<", "a", "b", true}, {"<=", "b", "b", true}, {">", "a", "b", false}, {">=", "c", "b", true},
		{"contains", "/etc/shadow", "shad", true}, {"icontains", "/ETC/Shadow", "shad", true},
		{"startswith", "/etc/shadow", "/etc", true}, {"endswith", "/etc/shadow", "/etc", false},
		{"glob", "/etc/shadow", "/etc/*", true}, {"iglob", "/ETC/shadow", "/etc/*", true},
		{"regex", "abc", "a.c", true}, {"regex", "abcd", "a.c", false},
		{"bcontains", "\x7fELF", "454c46", true}, {"bstartswith", "\x7fELF", "454c46", false},
	}
	n := 0
	for _, tt := range strs {
		m, err := stringOp(tt.op, tt.r)
		if err != nil {
			t.Fatalf("stringOp(%q): %v", tt.op, err)
		}
		if got := m(tt.l); got != tt.want {
			t.Errorf("%q %s %q against a constant = %v, want %v", tt.l, tt.op, tt.r, got, tt.want)
		}
		if operators[tt.op].against == nil {
			n++
			if got := pairOf[string](tt.op)(tt.l, tt.r); got != tt.want {
				t.Errorf("%q %s %q between values = %v, want %v", tt.l, tt.op, tt.r, got, tt.want)
			}
		}
	}
	nums := []struct {
		op   string
		l, r int64
		want bool
	}{{"=", 1, 1, true}, {"!=", 1, 1, false}, {"<", 1, 2, true}, {"<=", 2, 2, true}, {">", 1, 2, false}, {">=", 3, 2, true}}
	for _, tt := range nums {
		m, err := intOp(tt.op, tt.r)
		if err != nil {
			t.Fatalf("intOp(%q): %v", tt.op, err)
		}
		if got, pair := m(tt.l), pairOf[int64](tt.op)(tt.l, tt.r); got != tt.want || pair != tt.want {
			t.Errorf("%d %s %d = %v against a constant, %v between values; want %v", tt.l, tt.op, tt.r, got, pair, tt.want)
		}
	}
	if len(strs) != 17 || n != 13 || len(nums) != 6 {
		t.Errorf("ran %d string cases (%d in both forms) and %d numeric ones", len(strs), n, len(nums))
	}
}

// TestOperatorRefusals: operators a kind does not have are refused against
// a constant, with libsinsp's words, and never match between values.
func TestOperatorRefusals(t *testing.T) {
	for _, tt := range []struct{ op, want string }{
		{"exists", "'exists' operator not supported for string filters"},
		{"in", "'in' operator not supported for string filters"},
		{"pmatch", "'pmatch' operator not supported for string filters"},
	} {
		if _, err := stringOp(tt.op, "x"); err == nil || err.Error() != tt.want {
			t.Errorf("stringOp(%q) error = %v, want %q", tt.op, err, tt.want)
		}
	}
	for _, op := range []string{"contains", "in", "glob"} {
		if _, err := intOp(op, 1); err == nil || err.Error() != "'"+op+"' operator not supported for numeric filters" {
			t.Errorf("intOp(%q) error = %v", op, err)
		}
	}
	if pairOf[string]("regex")("a", "a") || pairOf[int64]("contains")(1, 1) {
		t.Error("an operator without a runtime form matched")
	}
}
