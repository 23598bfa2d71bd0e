package kube

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/peregrine-sec/peregrine/certs"
)

// AuditCredential says what the apiserver's audit webhook kubeconfig
// holds: where to post, and as whom.
type AuditCredential struct {
	Namespace, Secret string        // the service's CA (certificates.secret)
	URL               string        // the audit endpoint as the apiserver reaches it
	CommonName        string        // in k8s_audit.allowed_client_names
	Validity          time.Duration // of the client certificate
}

// AuditKubeconfig reads the service's CA from its Secret (the caller needs
// get on it: a cluster admin) and writes a kubeconfig for the apiserver's
// --audit-webhook-config-file: the endpoint, the CA that verifies the
// service, and a client certificate the CA signs, all inline.
func AuditKubeconfig(ctx context.Context, client kubernetes.Interface, a AuditCredential) ([]byte, error) {
	sec, err := client.CoreV1().Secrets(a.Namespace).Get(ctx, a.Secret, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the service's CA (is peregrine serve running with certificates.secret?): %w", err)
	}
	ca, err := certs.ParseCA(sec.Data[CACertKey], sec.Data[CAKeyKey], time.Now())
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", a.Namespace, a.Secret, err)
	}
	cert, err := ca.Client(a.CommonName, time.Now(), a.Validity)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := certs.PEM(cert)
	if err != nil {
		return nil, err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["peregrine"] = &clientcmdapi.Cluster{Server: a.URL, CertificateAuthorityData: ca.CertPEM}
	cfg.AuthInfos[a.CommonName] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts["default"] = &clientcmdapi.Context{Cluster: "peregrine", AuthInfo: a.CommonName}
	cfg.CurrentContext = "default"
	return clientcmd.Write(*cfg)
}
