package condition

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrintedForm(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a and b or c", "((a and b) or c)"},
		{"not not a", "a"},
		{"not a", "not a"},
		{"proc.name=bash", "proc.name = bash"},
		{`fd.name = "a b"`, `fd.name = "a b"`},
		{"proc.aname[2] in (sh,bash)", "proc.aname[2] in (sh, bash)"},
		{"proc.name startswith oneof (ssh, su)", "proc.name startswith oneof (ssh, su)"},
		{"tolower(proc.name) = x", "tolower(proc.name) = x"},
		{"fd.name exists", "fd.name exists"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, String(e)); diff != "" {
			t.Errorf("String(Parse(%q)) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestSyntaxErrorPositions(t *testing.T) {
	tests := []struct {
		in   string
		want SyntaxError
	}{
		{"", SyntaxError{"filter input string is empty", Pos{0, 1, 1}}},
		{"a and", SyntaxError{"expected blank or '(' after 'and'", Pos{5, 1, 6}}},
		{"a b", SyntaxError{"unexpected token after 'a', expecting 'or', 'and'", Pos{2, 1, 3}}},
		{"a and\n(b", SyntaxError{"expected a ')' token", Pos{8, 2, 3}}},
		{"proc.name ~ x", SyntaxError{"expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'", Pos{10, 1, 11}}},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		se, ok := err.(*SyntaxError)
		if !ok {
			t.Errorf("Parse(%q) = %v, want a SyntaxError", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, *se); diff != "" {
			t.Errorf("Parse(%q) error (-want +got):\n%s", tt.in, diff)
		}
	}
}

func BenchmarkParseLongCondition(b *testing.B) {
	in := "evt.type in (open, openat, openat2) and evt.is_open_write = true and fd.typechar = f and fd.num >= 0 " +
		"and fd.directory in (/bin, /sbin, /usr/bin, /usr/sbin) and not proc.name in (apt, dpkg, yum, rpm) " +
		"and not (proc.pname = sh and proc.cmdline contains \"install foo\")"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}
