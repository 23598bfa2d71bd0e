package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// NonRoot is the user the image runs as unless a pod says otherwise (the
// agent must run as root for eBPF; its DaemonSet says so).
const NonRoot = 65532

// BinaryPath is where the binary lies in the image.
const BinaryPath = "/usr/local/bin/peregrine"

// Options say what goes into the image.
type Options struct {
	Binary  string    // the static peregrine binary
	CACerts string    // a PEM bundle of CA certificates (Debian's ca-certificates.crt)
	Tag     string    // e.g. peregrine:v0.1.0-3-gabc1234
	Version string    // also the org.opencontainers.image.version label
	Created time.Time // every time stamp in the image (reproducible builds)
}

// Write builds the image and writes it as a tarball to path.
func Write(path string, o Options) error {
	tag, err := name.NewTag(o.Tag)
	if err != nil {
		return fmt.Errorf("image tag %q: %w", o.Tag, err)
	}
	img, err := Build(o)
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return fmt.Errorf("write image %s: %w", path, err)
	}
	return nil
}

// Build assembles the image.
func Build(o Options) (v1.Image, error) {
	files, err := o.files()
	if err != nil {
		return nil, err
	}
	layerTar, err := tarOf(files, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: o.Created}, CreatedBy: "peregrine mkimage", Comment: "peregrine " + o.Version}})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return mutate.ConfigFile(img, o.config(img))
}

func (o Options) config(img v1.Image) *v1.ConfigFile {
	cf, _ := img.ConfigFile() // an appended empty image always has one
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = "amd64", "linux", v1.Time{Time: o.Created}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", NonRoot, NonRoot),
		Entrypoint: []string{BinaryPath},
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		WorkingDir: "/",
		Labels: map[string]string{
			"org.opencontainers.image.title":   "peregrine",
			"org.opencontainers.image.version": o.Version,
		},
	}
	return cf
}

// file is one entry of the layer: a directory when body is nil.
type file struct {
	path string
	mode int64
	body []byte
}

func (o Options) files() ([]file, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("read CA certificates: %w", err)
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRoot, NonRoot)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", NonRoot)
	return []file{
		{path: "etc/", mode: 0o755}, {path: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{path: "etc/group", mode: 0o644, body: []byte(group)},
		{path: "etc/ssl/", mode: 0o755}, {path: "etc/ssl/certs/", mode: 0o755},
		{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: certs},
		{path: "home/", mode: 0o755}, {path: "home/nonroot/", mode: 0o700},
		{path: "tmp/", mode: 0o1777},
		{path: "usr/", mode: 0o755}, {path: "usr/local/", mode: 0o755}, {path: "usr/local/bin/", mode: 0o755},
		{path: BinaryPath[1:], mode: 0o755, body: bin},
	}, nil
}

func tarOf(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, ModTime: mtime, Typeflag: tar.TypeDir, Format: tar.FormatPAX}
		if f.body != nil {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if f.path == "home/nonroot/" {
			h.Uid, h.Gid = NonRoot, NonRoot
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image layer %s: %w", f.path, err)
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, fmt.Errorf("image layer %s: %w", f.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	return buf.Bytes(), nil
}
