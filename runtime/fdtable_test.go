package runtime

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSocketName: fd.name of IP sockets names the client first, a
// listening socket by its address, and a fresh socket not at all.
func TestSocketName(t *testing.T) {
	ip := netip.MustParseAddr
	any4 := netip.IPv4Unspecified()
	tests := []struct {
		name string
		fd   FD
		want string
	}{
		{"fresh socket", FD{LocalIP: any4, RemoteIP: any4}, ""},
		{"listening", FD{IsServer: true, LocalIP: any4, LocalPort: 8080, RemoteIP: any4}, "0.0.0.0:8080"},
		{"connected", FD{LocalIP: ip("10.0.0.2"), LocalPort: 40000, RemoteIP: ip("10.0.0.9"), RemotePort: 443},
			"10.0.0.2:40000->10.0.0.9:443"},
		{"accepted", FD{IsServer: true, LocalIP: ip("10.0.0.9"), LocalPort: 443, RemoteIP: ip("10.0.0.2"), RemotePort: 40000},
			"10.0.0.2:40000->10.0.0.9:443"},
		{"failed connect", FD{LocalIP: any4, RemoteIP: ip("127.0.0.2"), RemotePort: 4444}, "0.0.0.0:0->127.0.0.2:4444"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, socketName(&tt.fd)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
