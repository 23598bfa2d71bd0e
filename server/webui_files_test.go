package server

import (
	"io/fs"
	"regexp"
	"testing"
)

// TestUIWorksOffline: the page's files name nothing on another host (no
// CDN, no font, no script from elsewhere); the SVG namespace is a name,
// never fetched.
func TestUIWorksOffline(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href|url|fetch|import)\s*[=(:]\s*["']?(https?:)?//`)
	n := 0
	err := fs.WalkDir(uiFiles, "ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(uiFiles, path)
		if loc := external.FindIndex(b); loc != nil {
			t.Errorf("%s refers to another host: %q", path, b[loc[0]:min(loc[1]+40, len(b))])
		}
		return err
	})
	if err != nil || n != 3 {
		t.Fatalf("%d files, want 3 (index.html, app.js, style.css): %v", n, err)
	}
}
