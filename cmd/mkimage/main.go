// Command mkimage builds Peregrine's OCI image tarball from the static
// binary (make image): no Docker, no registry, no network.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/peregrine-sec/peregrine/internal/image"
)

func main() {
	var o image.Options
	out := flag.String("o", "bin/peregrine-image.tar", "the image tarball to write")
	flag.StringVar(&o.Binary, "binary", "bin/peregrine-static", "the static peregrine binary")
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "the CA certificates to include")
	flag.StringVar(&o.Version, "version", "", "the version: the image is tagged peregrine:VERSION")
	epoch := flag.String("created", "0", "the image's time stamps, in seconds since 1970 ($SOURCE_DATE_EPOCH)")
	flag.Parse()
	sec, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil || o.Version == "" {
		fmt.Fprintln(os.Stderr, "mkimage: -version is required and -created must be seconds since 1970")
		os.Exit(2)
	}
	o.Created, o.Tag = time.Unix(sec, 0).UTC(), "peregrine:"+o.Version
	if err := image.Write(*out, o); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s\n", *out, o.Tag)
}
