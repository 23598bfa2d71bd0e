// Package kube owns the service's view of the cluster: a pod informer
// (client-go, list/watch pods and nothing else) indexed by container id
// and by namespace/name, so that exec sessions find their container and
// node, and syscall events their pod (k8s.pod.*, container.name,
// container.image.*).
package kube
