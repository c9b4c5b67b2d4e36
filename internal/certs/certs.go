// Package certs makes and loads the cluster's mutual-TLS material: a cluster
// CA, and one certificate per identity whose role and name are written in
// the certificate itself, so that a server can check not only that a peer
// belongs to the cluster but what it may do and who it is.
//
// A certificate carries its identity twice, as a URI SAN
// clipformer://role/ROLE/NAME and as the subject (OU = ROLE, CN = NAME); the
// two must agree. For a worker, NAME is its worker id.
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
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Roles, written in every certificate the CA issues.
const (
	// RoleCoordinator speaks raft and forwards calls to the leader.
	RoleCoordinator = "coordinator"
	// RoleWorker opens the Work stream, and nothing else.
	RoleWorker = "worker"
	// RoleClient submits, follows and controls its sweeps.
	RoleClient = "client"
	// RoleAdmin changes the cluster's membership and may cancel any sweep.
	RoleAdmin = "admin"
)

// Roles lists every role.
var Roles = []string{RoleCoordinator, RoleWorker, RoleClient, RoleAdmin}

// Sentinel errors.
var (
	// ErrNoRole marks a certificate without a known role.
	ErrNoRole = errors.New("certs: certificate carries no clipformer role")
	// ErrName marks an identity name that cannot be used.
	ErrName = errors.New("certs: bad identity name")
)

// uriScheme and uriHost make the identity URI clipformer://role/ROLE/NAME.
const (
	uriScheme = "clipformer"
	uriHost   = "role"
)

// caName is the file stem of the CA; no identity may take it.
const caName = "ca"

// validName is what an identity name may hold: it becomes a file name, a
// URI path segment and, for workers, the worker id.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Files names the PEM files of one identity.
type Files struct {
	CA, Cert, Key string
}

// InDir is the conventional layout: DIR/ca.crt, DIR/NAME.crt, DIR/NAME.key.
func InDir(dir, name string) Files {
	return Files{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key")}
}

// IdentityURI is the URI SAN that names an identity.
func IdentityURI(role, name string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriHost, Path: "/" + role + "/" + name}
}

// CreateCA writes a new CA (ca.crt, ca.key) into dir, unless one is there.
// The key is written 0600 and must stay with the operator: whoever holds it
// can mint any identity, a coordinator's included.
func CreateCA(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, caName+".key")); err == nil {
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
		Subject:               pkix.Name{CommonName: "clipformer cluster CA", Organization: []string{"clipformer"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // the CA signs identities, never another CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, caName+".crt"), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, caName+".key"), "EC PRIVATE KEY", kb, 0o600)
}

// checkIdentity refuses an unknown role or a name that cannot be used.
func checkIdentity(name, role string) error {
	known := false
	for _, r := range Roles {
		known = known || r == role
	}
	if !known {
		return fmt.Errorf("certs: role %q: want one of %s: %w", role, strings.Join(Roles, ", "), ErrNoRole)
	}
	if !validName.MatchString(name) || name == caName {
		return fmt.Errorf("certs: name %q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit, and not %q: %w", name, caName, ErrName)
	}
	return nil
}

// Issue writes DIR/NAME.crt and DIR/NAME.key, signed by the CA in dir, for
// a role. A coordinator's certificate serves TLS (the API, raft, metrics)
// and a worker's its metrics, for the given DNS names and IPs; clients and
// admins only ever dial, so theirs carry no host names and no server usage.
// A server certificate does not make a worker a coordinator: clients
// accept only a coordinator's role (see Load). An existing identity of that name is replaced (a new key):
// that is how one identity is rotated.
func Issue(dir, name, role string, hosts []string) error {
	if err := checkIdentity(name, role); err != nil {
		return err
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
		URIs:         []*url.URL{IdentityURI(role, name)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if Serves(role) {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else if h != "" {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	f := InDir(dir, name)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	// The key first: a certificate is never left beside another key.
	if err := writePEM(f.Key, "EC PRIVATE KEY", kb, 0o600); err != nil {
		return err
	}
	return writePEM(f.Cert, "CERTIFICATE", der, 0o644)
}

// Serves reports whether a role's certificates serve TLS: coordinators
// and workers do, clients and admins only dial.
func Serves(role string) bool { return role == RoleCoordinator || role == RoleWorker }

// Exists reports whether DIR holds NAME's certificate and key.
func Exists(dir, name string) bool {
	f := InDir(dir, name)
	_, errC := os.Stat(f.Cert)
	_, errK := os.Stat(f.Key)
	return errC == nil && errK == nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err) // crypto/rand never fails on a supported platform
	}
	return n
}

// writePEM replaces path atomically, so that a reader never sees half a key.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func loadCA(dir string) (*x509.Certificate, any, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, caName+".crt"), filepath.Join(dir, caName+".key"))
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
// the CA (mutual TLS), and the client also requires the server to hold a
// coordinator certificate, since coordinators are the only servers. ca.crt
// may hold several CA certificates (while a CA is rotated).
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
	client = &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS13,
		VerifyConnection: RequirePeerRole(RoleCoordinator)}
	return server, client, nil
}

// RequirePeerRole is a tls.Config.VerifyConnection that accepts only a peer
// whose verified certificate has one of the given roles. It runs after the
// chain is verified, on both ends of a handshake.
func RequirePeerRole(roles ...string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("certs: the peer presented no certificate")
		}
		c := cs.PeerCertificates[0]
		role, name, err := IdentityOf(c)
		if err != nil {
			return fmt.Errorf("certs: peer %q: %w", c.Subject.CommonName, err)
		}
		for _, r := range roles {
			if r == role {
				return nil
			}
		}
		return fmt.Errorf("certs: peer %q holds a %s certificate; want %s", name, role, strings.Join(roles, " or "))
	}
}

// RoleOf returns the role of a verified peer certificate.
func RoleOf(c *x509.Certificate) (string, error) {
	role, _, err := IdentityOf(c)
	return role, err
}

// IdentityOf returns the role and name of a verified peer certificate: from
// its clipformer:// URI SAN, which must agree with the subject's OU and CN,
// or, for a certificate without one, from the subject alone.
func IdentityOf(c *x509.Certificate) (role, name string, err error) {
	var uris []string
	for _, u := range c.URIs {
		if u.Scheme == uriScheme {
			uris = append(uris, u.String())
		}
	}
	switch len(uris) {
	case 0:
		return subjectIdentity(c)
	case 1:
	default:
		return "", "", fmt.Errorf("certificate names %d clipformer identities (%s): %w", len(uris), strings.Join(uris, ", "), ErrNoRole)
	}
	u, _ := url.Parse(uris[0])
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if u.Host != uriHost || len(parts) != 2 {
		return "", "", fmt.Errorf("identity URI %s: want %s://%s/ROLE/NAME: %w", uris[0], uriScheme, uriHost, ErrNoRole)
	}
	role, name = parts[0], parts[1]
	if err := checkIdentity(name, role); err != nil {
		return "", "", err
	}
	if c.Subject.CommonName != name || len(c.Subject.OrganizationalUnit) != 1 || c.Subject.OrganizationalUnit[0] != role {
		return "", "", fmt.Errorf("identity URI %s disagrees with the subject (CN %q, OU %q): %w", uris[0], c.Subject.CommonName, c.Subject.OrganizationalUnit, ErrNoRole)
	}
	return role, name, nil
}

// subjectIdentity reads the role from the one known OU and the name from
// the CN, as in certificates issued before the URI SAN.
func subjectIdentity(c *x509.Certificate) (role, name string, err error) {
	for _, ou := range c.Subject.OrganizationalUnit {
		for _, r := range Roles {
			if ou == r {
				if role != "" {
					return "", "", fmt.Errorf("certificate has two roles (%s, %s): %w", role, ou, ErrNoRole)
				}
				role = ou
			}
		}
	}
	if role == "" {
		return "", "", ErrNoRole
	}
	if err := checkIdentity(c.Subject.CommonName, role); err != nil {
		return "", "", err
	}
	return role, c.Subject.CommonName, nil
}
