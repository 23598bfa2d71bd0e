// Package realnode tests Peregrine as installed on a real single-node
// cluster on this machine: etcd, kube-apiserver, controller-manager,
// scheduler, containerd + runc, kubelet, kube-proxy and CoreDNS, brought
// up by realnode.sh (adapted from ../shared/recipes/realnode; binaries
// built from the Go module proxy and cached), with no registry: images
// are imported from tarballs. It needs root; under CI it must run.
package realnode
