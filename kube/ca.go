package kube

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/peregrine-sec/peregrine/certs"
)

// Keys of the CA Secret and ConfigMap.
const (
	CACertKey = "ca.crt"
	CAKeyKey  = "ca.key"
)

var managedBy = map[string]string{"app.kubernetes.io/managed-by": "peregrine"}

// CAStore keeps the service's CA in a Secret, so that restarts and every
// replica share it, and publishes its certificate in a ConfigMap.
type CAStore struct {
	Client    kubernetes.Interface
	Namespace string
	Secret    string
	ConfigMap string
	Validity  time.Duration // of a CA made here
	Log       *slog.Logger
}

// LoadOrCreate returns the CA in the Secret, making it when there is none.
// Replicas that start together race to create it: the loser reads the
// winner's. A Secret that holds no Peregrine CA is an error, never
// replaced: agents and the apiserver trust the CA that is there.
func (s *CAStore) LoadOrCreate(ctx context.Context) (*certs.CA, error) {
	secrets := s.Client.CoreV1().Secrets(s.Namespace)
	for range 3 {
		sec, err := secrets.Get(ctx, s.Secret, metav1.GetOptions{})
		if err == nil {
			ca, err := certs.ParseCA(sec.Data[CACertKey], sec.Data[CAKeyKey], time.Now())
			if err != nil {
				return nil, fmt.Errorf("secret %s/%s: %w (delete it to have a new CA made, then renew the apiserver's audit credential)",
					s.Namespace, s.Secret, err)
			}
			return ca, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("get secret %s/%s: %w", s.Namespace, s.Secret, err)
		}
		ca, err := certs.NewCA(time.Now(), s.Validity)
		if err != nil {
			return nil, err
		}
		sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Secret, Namespace: s.Namespace, Labels: managedBy},
			Type: corev1.SecretTypeOpaque, Data: map[string][]byte{CACertKey: ca.CertPEM, CAKeyKey: ca.KeyPEM}}
		_, err = secrets.Create(ctx, sec, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			continue // another replica made one first: use it
		}
		if err != nil {
			return nil, fmt.Errorf("create secret %s/%s: %w", s.Namespace, s.Secret, err)
		}
		s.Log.Info("made the service's CA", "secret", s.Namespace+"/"+s.Secret, "not_after", ca.Cert.NotAfter.Format(time.RFC3339))
		return ca, nil
	}
	return nil, fmt.Errorf("secret %s/%s: created and deleted under us three times", s.Namespace, s.Secret)
}

// Publish writes the CA certificate (public) into the ConfigMap.
func (s *CAStore) Publish(ctx context.Context, ca *certs.CA) error {
	cms := s.Client.CoreV1().ConfigMaps(s.Namespace)
	cm, err := cms.Get(ctx, s.ConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: s.ConfigMap, Namespace: s.Namespace, Labels: managedBy},
			Data: map[string]string{CACertKey: string(ca.CertPEM)}}
		if _, err = cms.Create(ctx, cm, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
			return nil // a replica published the same CA
		}
	} else if err == nil && cm.Data[CACertKey] != string(ca.CertPEM) {
		cm.Data = map[string]string{CACertKey: string(ca.CertPEM)}
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("publish CA in configmap %s/%s: %w", s.Namespace, s.ConfigMap, err)
	}
	return nil
}
