package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/selftest"
)

func selftestCmd() *cobra.Command {
	o := selftest.Options{Image: "busybox:1.36", PullPolicy: corev1.PullIfNotPresent, ServiceNamespace: "peregrine",
		ServiceSelector: "app.kubernetes.io/name=peregrine-server", Timeout: time.Minute}
	var kubeconfig, pull string
	c := &cobra.Command{
		Use:   "selftest",
		Short: "Check a live installation: trigger one harmless rule per source in a throwaway pod and wait for each alert",
		Long: "selftest creates a namespace and a pod, triggers an admission warning (a dry run of an untagged image), an\n" +
			"audit rule and a syscall rule (kubectl exec of sh into the pod), reads the service's output until each alert\n" +
			"comes back, prints source, rule, seen and latency, deletes what it created, and exits 1 if an alert is missing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, ok, err := kube.Config(kubeconfig)
			if err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("no cluster: give --kubeconfig")
			}
			o.Config, o.PullPolicy, o.Out = cfg, corev1.PullPolicy(pull), cmd.OutOrStdout()
			if err := selftest.Run(cmd.Context(), o); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "peregrine:", err)
				return &inspect.ExitError{Code: 1} // a missing alert, not a usage error
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster (default $KUBECONFIG; empty: in-cluster)")
	f.StringVar(&o.Image, "image", o.Image, "an image with sh and sleep for the throwaway pod")
	f.StringVar(&pull, "image-pull-policy", string(o.PullPolicy), "the throwaway pod's imagePullPolicy")
	f.StringVar(&o.ServiceNamespace, "namespace", o.ServiceNamespace, "the service's namespace")
	f.StringVar(&o.ServiceSelector, "selector", o.ServiceSelector, "the label selector of the service's pods")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "how long to wait for the pod and for each alert")
	return c
}
