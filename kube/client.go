package kube

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config reads a kubeconfig, or the in-cluster service account when path
// is empty; it reports ok false outside a cluster without a kubeconfig.
func Config(path string) (*rest.Config, bool, error) {
	if path != "" {
		c, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, false, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		return c, true, nil
	}
	c, err := rest.InClusterConfig()
	if err == rest.ErrNotInCluster {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("in-cluster config: %w", err)
	}
	return c, true, nil
}

// NewClient is a client of the cluster Config finds; nil, nil when there
// is none. A process makes one and shares it.
func NewClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, ok, err := Config(kubeconfig)
	if err != nil || !ok {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return client, nil
}
