package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/manifests"
)

func auditConfigCmd() *cobra.Command {
	a := kube.AuditCredential{Namespace: "peregrine", Secret: "peregrine-ca", CommonName: "kube-apiserver",
		URL: "https://peregrine-server.peregrine.svc:9443/k8s-audit", Validity: 365 * 24 * time.Hour}
	var kubeconfig, outDir string
	var policy bool
	c := &cobra.Command{
		Use:   "audit-config [--policy] [--out DIR]",
		Short: "Print the kube-apiserver's audit webhook kubeconfig (endpoint, CA, client certificate) or the recommended audit policy",
		Long: "The audit webhook is wired with control-plane flags no manifest can set: --audit-webhook-config-file takes\n" +
			"the kubeconfig this prints (a client certificate signed by the service's CA, read from its Secret: run it as\n" +
			"a cluster admin) and --audit-policy-file the policy --policy prints. --out DIR writes both files.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if policy && outDir == "" {
				_, err := cmd.OutOrStdout().Write(manifests.AuditPolicy)
				return err
			}
			client, err := kube.NewClient(kubeconfig)
			if err != nil {
				return err
			} else if client == nil {
				return fmt.Errorf("no cluster: give --kubeconfig")
			}
			kc, err := kube.AuditKubeconfig(cmd.Context(), client, a)
			if err != nil {
				return err
			}
			if outDir == "" {
				_, err = cmd.OutOrStdout().Write(kc)
				return err
			}
			return writeAuditFiles(outDir, kc)
		},
	}
	f := c.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of a cluster admin (default $KUBECONFIG; empty: in-cluster)")
	f.StringVar(&a.URL, "server", a.URL, "the audit endpoint as the apiserver reaches it")
	f.StringVar(&a.Namespace, "namespace", a.Namespace, "the service's namespace (certificates.namespace)")
	f.StringVar(&a.Secret, "secret", a.Secret, "the Secret holding the service's CA (certificates.secret)")
	f.StringVar(&a.CommonName, "common-name", a.CommonName, "the client certificate's common name (k8s_audit.allowed_client_names)")
	f.DurationVar(&a.Validity, "validity", a.Validity, "how long the client certificate is valid")
	f.BoolVar(&policy, "policy", false, "print the recommended audit policy instead")
	f.StringVar(&outDir, "out", "", "write audit-webhook.kubeconfig and audit-policy.yaml into this directory")
	return c
}

func writeAuditFiles(dir string, kubeconfig []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "audit-webhook.kubeconfig"), kubeconfig, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "audit-policy.yaml"), manifests.AuditPolicy, 0o644); err != nil {
		return fmt.Errorf("write policy: %w", err)
	}
	return nil
}
