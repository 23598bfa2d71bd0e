package engine

import "testing"

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"/etc/*", "/etc/ssh/sshd_config", false, true}, // '*' crosses '/', as fnmatch without FNM_PATHNAME
		{"*.sh", "run.sh", false, true},
		{"*.sh", "run.shx", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"[a-c]x", "bx", false, true},
		{"[!a-c]x", "bx", false, false},
		{"[^a-c]x", "dx", false, true},
		{`\*`, "*", false, true},
		{`\*`, "a", false, false},
		{"{a,b}", "{a,b}", false, true}, // braces are literal
		{"[unclosed", "[unclosed", false, true},
		{"ABC*", "abcdef", true, true},
		{"ABC*", "abcdef", false, false},
		{"*a*b*c*", "xxaxxbxxcxx", false, true},
		{"", "", false, true},
		{"*", "", false, true},
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.s, tt.fold); got != tt.want {
			t.Errorf("glob(%q, %q, fold=%v) = %v, want %v", tt.pattern, tt.s, tt.fold, got, tt.want)
		}
	}
}

func TestPathMatch(t *testing.T) {
	tests := []struct {
		prefixes []string
		s        string
		want     bool
	}{
		{[]string{"/var/run"}, "/var/run/docker", true},
		{[]string{"/var/run"}, "/var/run", true},
		{[]string{"/var/run"}, "/var/runner", false},
		{[]string{"/var/run/"}, "/var/run/x", true},
		{[]string{"/var/lib"}, "/var/run/x", false},
		{[]string{"/var/run"}, "/var", false},
	}
	for _, tt := range tests {
		if got := pathMatch(tt.prefixes, tt.s); got != tt.want {
			t.Errorf("pathMatch(%q, %q) = %v, want %v", tt.prefixes, tt.s, got, tt.want)
		}
	}
}

func TestModifiers(t *testing.T) {
	tests := []struct {
		op, mod string
		vals    []string
		s       string
		want    bool
	}{
		{"startswith", "oneof", []string{"ssh", "su"}, "sshd", true},
		{"startswith", "oneof", []string{"s", "ss"}, "sshd", false}, // two match: not exactly one
		{"contains", "allof", []string{"curl", "bash"}, "bash -c curl", true},
		{"contains", "allof", []string{"curl", "wget"}, "bash -c curl", false},
		{"=", "anyof", []string{"a", "b"}, "b", true},
		{"=", "anyof", []string{}, "b", false},
	}
	for _, tt := range tests {
		m, err := modifierOp(tt.op, tt.mod, tt.vals)
		if err != nil {
			t.Fatal(err)
		}
		if got := m(tt.s); got != tt.want {
			t.Errorf("%s %s %q on %q = %v, want %v", tt.op, tt.mod, tt.vals, tt.s, got, tt.want)
		}
	}
}

func TestStringOpErrors(t *testing.T) {
	for _, tt := range []struct{ op, v, want string }{
		{"bcontains", "6g", "'6g' is not a valid hex byte string for 'bcontains'"},
		{"exists", "x", "'exists' operator not supported for string filters"},
	} {
		if _, err := stringOp(tt.op, tt.v); err == nil || err.Error() != tt.want {
			t.Errorf("stringOp(%q, %q) error = %v, want %q", tt.op, tt.v, err, tt.want)
		}
	}
}
