package image

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func options(t *testing.T) Options {
	dir := t.TempDir()
	bin, certs := filepath.Join(dir, "peregrine"), filepath.Join(dir, "ca.crt")
	os.WriteFile(bin, []byte("\x7fELF not really"), 0o755)
	os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)
	return Options{Binary: bin, CACerts: certs, Tag: "peregrine:v0.1.0-3-gabc1234", Version: "v0.1.0-3-gabc1234",
		Created: time.Unix(1764000000, 0).UTC()}
}

// TestImage: the tarball holds one image under its tag, running the binary
// as the non-root user, with exactly the files it needs.
func TestImage(t *testing.T) {
	o := options(t)
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := Write(path, o); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(o.Tag)
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || cf.Config.Entrypoint[0] != "/usr/local/bin/peregrine" || cf.OS != "linux" ||
		cf.Config.Labels["org.opencontainers.image.version"] != o.Version || !cf.Created.Equal(o.Created) {
		t.Errorf("config %+v", cf)
	}
	layers, _ := img.Layers()
	if len(layers) != 1 {
		t.Fatalf("%d layers", len(layers))
	}
	rc, _ := layers[0].Uncompressed()
	defer rc.Close()
	got := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(o.Created) {
			t.Errorf("%s: mtime %v", h.Name, h.ModTime)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	want := []string{"etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt",
		"home/", "home/nonroot/", "tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/peregrine"}
	var names []string
	for _, n := range want {
		if _, ok := got[n]; ok {
			names = append(names, n)
		}
	}
	if diff := cmp.Diff(want, names); diff != "" || len(got) != len(want) {
		t.Errorf("files (-want +got):\n%s\nall: %v", diff, got)
	}
	if got["usr/local/bin/peregrine"] != "\x7fELF not really" {
		t.Error("the binary is not the one given")
	}
}

// TestReproducible: the same inputs give the same image digest.
func TestReproducible(t *testing.T) {
	o := options(t)
	a, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Build(o)
	da, _ := a.Digest()
	db, _ := b.Digest()
	o.Created = o.Created.Add(time.Second)
	c, _ := Build(o)
	dc, _ := c.Digest()
	if da != db || da == dc {
		t.Errorf("digests %s %s (a second later: %s)", da, db, dc)
	}
}

func TestErrors(t *testing.T) {
	o := options(t)
	o.Tag = "Peregrine:bad tag"
	if err := Write(filepath.Join(t.TempDir(), "x.tar"), o); err == nil {
		t.Error("bad tag accepted")
	}
	o = options(t)
	o.Binary = "/nonexistent"
	if _, err := Build(o); err == nil || err.Error() != "read binary: open /nonexistent: no such file or directory" {
		t.Errorf("missing binary: %v", err)
	}
}
