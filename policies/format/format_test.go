package format

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func known(name string) bool {
	switch name {
	case "proc.name", "proc.aname", "fd.name", "evt.arg.flags", "ka.uri.param":
		return true
	}
	return false
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want []Token
		err  string
	}{
		{in: "user=%proc.name file=%fd.name", want: []Token{
			{Text: "user="}, {Field: "proc.name", Name: "proc.name"}, {Text: " file="}, {Field: "fd.name", Name: "fd.name"}}},
		{in: "%proc.aname[2]:%20proc.name.", want: []Token{
			{Field: "proc.aname[2]", Name: "proc.aname", Arg: "2"}, {Text: ":"}, {Field: "proc.name", Name: "proc.name", Width: 20}, {Text: "."}}},
		{in: "cmd=%ka.uri.param[command]", want: []Token{{Text: "cmd="}, {Field: "ka.uri.param[command]", Name: "ka.uri.param", Arg: "command"}}},
		{in: "x=%tolower(proc.name)", want: []Token{{Text: "x="}, {Field: "tolower(proc.name)", Name: "proc.name"}}},
		{in: "100%", want: []Token{{Text: "100%"}}},
		{in: "bad=%not_a_real_field", err: "invalid formatting token not_a_real_field"},
		{in: "bad=%proc.nobody", err: "invalid formatting token proc.nobody"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, known)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Parse(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
