package engine

import "testing"

func TestAppendPrintable(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"python3 -c print(1)", "python3 -c print(1)"},
		{"", ""},
		{"sh -c echo a\necho b", "sh -c echo a\uFFFDecho b"},
		{"\ttab\r\x1b[31mred\x7f", "\uFFFDtab\uFFFD\uFFFD[31mred\uFFFD"},
		{"caf\u00e9 \u65e5\u672c \U0001F600", "caf\u00e9 \u65e5\u672c \U0001F600"}, // printable beyond ASCII stays
		{"c1\u0085end", "c1\uFFFDend"},                                             // a C1 control
		{"bad\xff\xfe utf8 \xe6\x97", "bad\uFFFD\uFFFD utf8 \uFFFD\uFFFD"},
		{"\uFFFD kept", "\uFFFD kept"},
	} {
		if got := string(appendPrintable([]byte("x="), tt.in)); got != "x="+tt.want {
			t.Errorf("appendPrintable(%q) = %q, want %q", tt.in, got, "x="+tt.want)
		}
	}
}

func BenchmarkAppendPrintable(b *testing.B) {
	buf := make([]byte, 0, 256)
	for _, bm := range []struct{ name, in string }{
		{"ascii", "/usr/bin/python3 -c import os; os.system('id') --verbose"},
		{"newline", "/usr/bin/python3 -c import os\nos.system('id') --verbose"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf = appendPrintable(buf[:0], bm.in)
			}
		})
	}
}
