package audit

import (
	"bytes"
	"testing"
)

func BenchmarkSkim(b *testing.B) {
	data, _ := realTraffic(b)
	lines := bytes.Split(bytes.TrimSpace(data), []byte{'\n'})
	var s skimmed
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for _, l := range lines {
			if !skim(&s, l) {
				b.Fatal("not skimmed")
			}
		}
	}
}
