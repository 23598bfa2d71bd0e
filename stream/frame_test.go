package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-sec/peregrine/output"
)

func TestFrameRoundTrip(t *testing.T) {
	small := Hello{Node: "node-1", Hostname: "n1"}
	big := Alerts{Seq: 7}
	for range 50 {
		big.Alerts = append(big.Alerts, Alert{Rule: "Shell spawned in a container", Priority: "Notice", Source: "syscall",
			Output: "Shell spawned in a container (user=root shell=bash)", Tags: []string{"container", "shell"}})
	}
	var buf bytes.Buffer
	if err := WriteFrame(&buf, KindHello, small); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&buf, KindAlerts, big); err != nil {
		t.Fatal(err)
	}
	raw := buf.Len()
	kind, payload, err := ReadFrame(&buf)
	var gotHello Hello
	if err != nil || kind != KindHello || decode(kind, payload, &gotHello) != nil || !cmp.Equal(gotHello, small) {
		t.Fatalf("hello: %c %v %+v", kind, err, gotHello)
	}
	kind, payload, err = ReadFrame(&buf)
	var gotAlerts Alerts
	if err != nil || kind != KindAlerts || decode(kind, payload, &gotAlerts) != nil {
		t.Fatalf("alerts: %c %v", kind, err)
	}
	if diff := cmp.Diff(big, gotAlerts); diff != "" {
		t.Errorf("alerts (-sent +got):\n%s", diff)
	}
	if raw > len(payload)/4 {
		t.Errorf("50 similar alerts took %d bytes on the wire for %d of JSON: not deflated", raw, len(payload))
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"oversized", "a\xff\xff\xff\xff", "stream: malformed frame: 4294967295 bytes over the 8388608 limit"},
		{"truncated", "a\x00\x00\x00\x05{}", "stream: malformed frame: unexpected EOF"},
		{"bad deflate", "\xe1\x00\x00\x00\x02zz", "stream: malformed frame: inflate: unexpected EOF"},
	}
	for _, tt := range tests {
		_, _, err := ReadFrame(strings.NewReader(tt.in))
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrFrame) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// FuzzReadFrame: any bytes give frames or an error, never a panic, and
// reading them allocates in proportion to the bytes read and the payloads
// they inflate to (bounded by MaxFrame), never to what a header claims.
// Its seeds (testdata/fuzz/FuzzReadFrame) are frames of every kind
// (TestFrameSeeds).
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("a\x00\x7f\xff\xffsmall")) // claims 8 MiB, sends 5 bytes
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			var before, after goruntime.MemStats
			goruntime.ReadMemStats(&before)
			kind, payload, err := ReadFrame(r)
			goruntime.ReadMemStats(&after)
			if used, bound := after.TotalAlloc-before.TotalAlloc, 4*uint64(len(b)+len(payload))+1<<20; used > bound {
				t.Fatalf("reading a frame of %d bytes (from %d) allocated %d bytes, over %d", len(payload), len(b), used, bound)
			}
			if err != nil {
				return
			}
			var v any
			_ = decode(kind, payload, &v)
		}
	})
}

// TestFrameSeeds: the fuzz seeds hold a frame of every kind, deflated and
// not, each of which reads and decodes.
func TestFrameSeeds(t *testing.T) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzReadFrame/*")
	kinds := map[byte]bool{}
	deflatedSeen := false
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		quoted := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
		raw, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		kind, payload, err := ReadFrame(strings.NewReader(raw))
		var v any
		if err != nil || decode(kind, payload, &v) != nil {
			t.Errorf("%s: %v", file, err)
		}
		kinds[kind], deflatedSeen = true, deflatedSeen || raw[0]&deflated != 0
	}
	for _, k := range []byte{KindHello, KindAlerts, KindAck, KindAnnounce, KindConfirm, KindPods, KindPeers} {
		if !kinds[k] {
			t.Errorf("no seed of kind %c", k)
		}
	}
	if !deflatedSeen {
		t.Error("no deflated seed")
	}
}

// TestExactNumbers: an alert's numeric output fields cross the stream
// digit for digit (evt.time in nanoseconds does not fit a float64).
func TestExactNumbers(t *testing.T) {
	var buf bytes.Buffer
	sent := Alerts{Seq: 1, Alerts: []Alert{{Rule: "r", OutputFields: map[string]any{"evt.time": int64(1796219636697944482), "proc.pid": int64(7)}}}}
	if err := WriteFrame(&buf, KindAlerts, sent); err != nil {
		t.Fatal(err)
	}
	kind, payload, err := ReadFrame(&buf)
	var got Alerts
	if err != nil || decode(kind, payload, &got) != nil {
		t.Fatalf("read: %v", err)
	}
	line := string(got.Alerts[0].alert().JSON(output.DefaultFormat()))
	if !strings.Contains(line, `"evt.time":1796219636697944482`) || !strings.Contains(line, `"proc.pid":7`) {
		t.Errorf("numbers changed on the way: %s", line)
	}
}

// TestReadFrameLarge: a payload past the first buffer comes whole, and one
// cut short at a buffer's end is an error.
func TestReadFrameLarge(t *testing.T) {
	payload := []byte(`"` + strings.Repeat("x", 200_000) + `"`)
	frame := append([]byte{KindAck, 0, 0, 0, 0}, payload...)
	binary.BigEndian.PutUint32(frame[1:], uint32(len(payload)))
	_, got, err := ReadFrame(bytes.NewReader(frame))
	if err != nil || !bytes.Equal(got, payload) {
		t.Errorf("%d bytes, %v; want the %d sent", len(got), err, len(payload))
	}
	if _, _, err := ReadFrame(bytes.NewReader(frame[:5+readAhead])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut at %d bytes: %v, want unexpected EOF", readAhead, err)
	}
}
