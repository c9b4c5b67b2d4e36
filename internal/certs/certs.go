// Package certs makes and loads the cluster's mutual-TLS material: a
// development CA, and certificates for coordinators, workers and clients
// whose role is written in the certificate's organisational unit, so that a
// server can check not only that a peer belongs to the cluster but what it
// may do.
package certs

import (
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
	"os"
	"path/filepath"
	"time"
)

// Roles, written in the certificate's OU.
const (
	RoleCoordinator = "coordinator"
	RoleWorker      = "worker"
	RoleClient      = "client"
)

// Files names the PEM files of one identity.
type Files struct {
	CA, Cert, Key string
}

// InDir is the conventional layout: DIR/ca.crt, DIR/NAME.crt, DIR/NAME.key.
func InDir(dir, name string) Files {
	return Files{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key")}
}

// CreateCA writes a new CA (ca.crt, ca.key) into dir, unless one is there.
func CreateCA(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "clipformer development CA", Organization: []string{"clipformer"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, "ca.crt"), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, "ca.key"), "EC PRIVATE KEY", kb, 0o600)
}

// Issue writes DIR/NAME.crt and DIR/NAME.key, signed by the CA in dir, for
// a role, valid for the given DNS names and IPs (as server and client).
func Issue(dir, name, role string, hosts []string) error {
	switch role {
	case RoleCoordinator, RoleWorker, RoleClient:
	default:
		return fmt.Errorf("certs: role %q: want coordinator, worker or client", role)
	}
	caCert, caKey, err := loadCA(dir)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"clipformer"}, OrganizationalUnit: []string{role}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	f := InDir(dir, name)
	if err := writePEM(f.Cert, "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(f.Key, "EC PRIVATE KEY", kb, 0o600)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	return n
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func loadCA(dir string) (*x509.Certificate, any, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, nil, fmt.Errorf("certs: CA in %s: %w (run `clipformer certs init` first)", dir, err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	return c, pair.PrivateKey, nil
}

// Load reads an identity and its CA and returns the server and client TLS
// configurations: both require and verify the peer's certificate against
// the CA (mutual TLS).
func Load(f Files) (server, client *tls.Config, err error) {
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: %s / %s: %w", f.Cert, f.Key, err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("certs: %s holds no PEM certificate", f.CA)
	}
	server = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13}
	client = &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS13}
	return server, client, nil
}

// ErrNoRole marks a certificate without a known role.
var ErrNoRole = errors.New("certs: certificate carries no clipformer role")

// RoleOf returns the role of a verified peer certificate.
func RoleOf(c *x509.Certificate) (string, error) {
	for _, ou := range c.Subject.OrganizationalUnit {
		switch ou {
		case RoleCoordinator, RoleWorker, RoleClient:
			return ou, nil
		}
	}
	return "", ErrNoRole
}
