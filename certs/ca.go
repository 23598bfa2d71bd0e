package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CACommonName names the CAs Peregrine makes; ParseCA refuses others, so
// that a foreign Secret of the same name is never used (or replaced).
const CACommonName = "peregrine-ca"

// ErrForeignCA: the PEM is a certificate and key, but not a CA Peregrine
// made, or not a usable one.
var ErrForeignCA = errors.New("not a Peregrine CA")

// CA signs the service's certificates.
type CA struct {
	Cert    *x509.Certificate
	key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA makes a CA valid for validity from now.
func NewCA(now time.Time, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: CACommonName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("generate CA: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	return ParseCA(pemOf("CERTIFICATE", der), pemOf("EC PRIVATE KEY", keyDER), now)
}

// ParseCA reads a CA from PEM and checks that it is one of Peregrine's,
// that the key is its key, and that it is valid at now.
func ParseCA(certPEM, keyPEM []byte, now time.Time) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForeignCA, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForeignCA, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: the key cannot sign", ErrForeignCA)
	case !cert.IsCA || cert.Subject.CommonName != CACommonName:
		return nil, fmt.Errorf("%w: certificate %q is not a CA named %s", ErrForeignCA, cert.Subject.CommonName, CACommonName)
	case now.After(cert.NotAfter):
		return nil, fmt.Errorf("%w: it expired at %s", ErrForeignCA, cert.NotAfter.Format(time.RFC3339))
	}
	return &CA{Cert: cert, key: signer, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// pool is a pool holding the CA, to verify what it signed.
func (ca *CA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Serving signs a serving certificate for names (DNS names or IP
// addresses) valid for validity from now, never past the CA.
func (ca *CA) Serving(names []string, now time.Time, validity time.Duration) (*tls.Certificate, error) {
	tmpl, err := ca.template("peregrine", now, validity, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return ca.sign(tmpl)
}

// Client signs a client certificate with common name cn.
func (ca *CA) Client(cn string, now time.Time, validity time.Duration) (*tls.Certificate, error) {
	tmpl, err := ca.template(cn, now, validity, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	return ca.sign(tmpl)
}

func (ca *CA) template(cn string, now time.Time, validity time.Duration, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	if !notAfter.After(now) {
		return nil, fmt.Errorf("the CA expired at %s: make a new one", ca.Cert.NotAfter.Format(time.RFC3339))
	}
	return &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}}, nil
}

func (ca *CA) sign(tmpl *x509.Certificate) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	leaf, _ := x509.ParseCertificate(der) // just made
	return &tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// PEM encodes a certificate chain and its key.
func PEM(c *tls.Certificate) (certPEM, keyPEM []byte, err error) {
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pemOf("CERTIFICATE", der)...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return certPEM, pemOf("PRIVATE KEY", keyDER), nil
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // crypto/rand does not fail
	return n
}
