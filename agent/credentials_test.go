package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTokenReadAtEachConnection: the kubelet renews a projected token in
// place; the agent reads the file again at every connection.
func TestTokenReadAtEachConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	os.WriteFile(path, []byte("first\n"), 0o600)
	_, token, err := clientCredentials("", "", "", path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := token(); got != "first" {
		t.Errorf("token %q", got)
	}
	os.WriteFile(path, []byte("renewed\n"), 0o600)
	if got, _ := token(); got != "renewed" {
		t.Errorf("after renewal: %q", got)
	}
	if _, _, err := clientCredentials("", "", "", filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing token file was accepted")
	}
}
