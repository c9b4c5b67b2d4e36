package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newCA makes a CA in a fresh folder.
func newCA(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := CreateCA(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func parseCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(path, strings.TrimSuffix(path, ".crt")+".key")
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssueWritesRoleAndNameIntoTheCertificate(t *testing.T) {
	dir := newCA(t)
	for _, tc := range []struct{ name, role string }{
		{"c1", RoleCoordinator}, {"w7", RoleWorker}, {"alice", RoleClient}, {"ops", RoleAdmin},
	} {
		if err := Issue(dir, tc.name, tc.role, []string{"c1", "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		c := parseCert(t, InDir(dir, tc.name).Cert)
		role, name, err := IdentityOf(c)
		if err != nil || role != tc.role || name != tc.name {
			t.Errorf("IdentityOf(%s) = %q, %q, %v; want %q, %q", tc.name, role, name, err, tc.role, tc.name)
		}
		want := "clipformer://role/" + tc.role + "/" + tc.name
		if len(c.URIs) != 1 || c.URIs[0].String() != want {
			t.Errorf("%s: URI SANs %v, want [%s]", tc.name, c.URIs, want)
		}
		// Coordinators and workers (their metrics) serve TLS; clients
		// and admins carry no host names.
		serves := tc.role == RoleCoordinator || tc.role == RoleWorker
		hasServer := false
		for _, u := range c.ExtKeyUsage {
			hasServer = hasServer || u == x509.ExtKeyUsageServerAuth
		}
		if hasServer != serves || (len(c.DNSNames) > 0) != serves {
			t.Errorf("%s (%s): server usage %v, DNS names %v; want server usage only for coordinators and workers", tc.name, tc.role, hasServer, c.DNSNames)
		}
		if fi, err := os.Stat(InDir(dir, tc.name).Key); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s.key: mode %v, %v; want 0600", tc.name, fi.Mode().Perm(), err)
		}
	}
}

func TestIssueRefusesUnknownRolesAndUnusableNames(t *testing.T) {
	dir := newCA(t)
	for _, tc := range []struct {
		name, role string
		want       error
	}{
		{"x", "root", ErrNoRole},
		{"ca", RoleAdmin, ErrName}, // would overwrite the CA's own files
		{"../w1", RoleWorker, ErrName},
		{"a/b", RoleWorker, ErrName},
		{"", RoleClient, ErrName},
		{".hidden", RoleClient, ErrName},
	} {
		if err := Issue(dir, tc.name, tc.role, nil); !errors.Is(err, tc.want) {
			t.Errorf("Issue(%q, %q) = %v, want %v", tc.name, tc.role, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil {
		t.Fatalf("the CA key is gone: %v", err)
	}
}

func TestCreateCAKeepsAnExistingCA(t *testing.T) {
	dir := newCA(t)
	before, _ := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err := CreateCA(dir); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "ca.key"))
	if string(before) != string(after) {
		t.Fatal("CreateCA replaced an existing CA")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "ca.key")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode %v, want 0600", fi.Mode().Perm())
	}
}

// forge signs a certificate with the CA in dir from a template, as a
// hostile or careless issuer might.
func forge(t *testing.T, dir string, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	caCert, caKey, err := loadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl.SerialNumber = serial()
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIdentityOfRefusesAmbiguousCertificates(t *testing.T) {
	dir := newCA(t)
	uri := func(s string) []*url.URL { u, _ := url.Parse(s); return []*url.URL{u} }
	for _, tc := range []struct {
		what string
		tmpl *x509.Certificate
	}{
		{"URI and subject disagree on the role", &x509.Certificate{Subject: pkix.Name{CommonName: "w1", OrganizationalUnit: []string{"worker"}},
			URIs: uri("clipformer://role/admin/w1")}},
		{"URI and subject disagree on the name", &x509.Certificate{Subject: pkix.Name{CommonName: "w1", OrganizationalUnit: []string{"worker"}},
			URIs: uri("clipformer://role/worker/w2")}},
		{"two identity URIs", &x509.Certificate{Subject: pkix.Name{CommonName: "w1", OrganizationalUnit: []string{"worker"}},
			URIs: append(uri("clipformer://role/worker/w1"), uri("clipformer://role/admin/w1")...)}},
		{"two roles in the subject", &x509.Certificate{Subject: pkix.Name{CommonName: "x", OrganizationalUnit: []string{"client", "admin"}}}},
		{"no role at all", &x509.Certificate{Subject: pkix.Name{CommonName: "x"}}},
		{"an unknown role in the URI", &x509.Certificate{Subject: pkix.Name{CommonName: "x", OrganizationalUnit: []string{"root"}},
			URIs: uri("clipformer://role/root/x")}},
	} {
		if role, name, err := IdentityOf(forge(t, dir, tc.tmpl)); err == nil {
			t.Errorf("%s: accepted as %s %s", tc.what, role, name)
		}
	}
	// A certificate of the OU-only layout still reads.
	old := forge(t, dir, &x509.Certificate{Subject: pkix.Name{CommonName: "client", OrganizationalUnit: []string{"client"}}})
	if role, name, err := IdentityOf(old); err != nil || role != RoleClient || name != "client" {
		t.Errorf("OU-only certificate: %q %q %v", role, name, err)
	}
}

// handshake runs a TLS handshake between the two configs and returns the
// errors of both ends.
func handshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	// Loopback TCP, not net.Pipe: both ends may write at once (an alert
	// against a flight), which an unbuffered pipe would deadlock.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		a, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer a.Close()
		a.SetDeadline(time.Now().Add(10 * time.Second))
		done <- tls.Server(a, server).Handshake()
	}()
	b, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetDeadline(time.Now().Add(10 * time.Second))
	c := client.Clone()
	c.ServerName = "c1"
	err = tls.Client(b, c).Handshake()
	b.Close()
	// Under TLS 1.3 the client finishes first; a refused client
	// certificate shows only on the server's side.
	return errors.Join(err, <-done)
}

func TestClientsAcceptOnlyACoordinatorAsServer(t *testing.T) {
	dir := newCA(t)
	for _, n := range []struct{ name, role string }{{"c1", RoleCoordinator}, {"w1", RoleWorker}, {"alice", RoleClient}} {
		if err := Issue(dir, n.name, n.role, []string{"c1"}); err != nil {
			t.Fatal(err)
		}
	}
	coordSrv, _, err := Load(InDir(dir, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	_, clientCli, err := Load(InDir(dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, coordSrv, clientCli); err != nil {
		t.Fatalf("client to coordinator: %v", err)
	}
	// A worker's key posing as a server: its certificate has no server
	// usage, and even one that had it would hold the wrong role.
	workerSrv, _, _ := Load(InDir(dir, "w1"))
	workerSrv.ClientAuth = tls.NoClientCert
	trusting := clientCli.Clone()
	trusting.InsecureSkipVerify = true // let the chain pass, to reach the role check
	if err := handshake(t, workerSrv, trusting); err == nil || !strings.Contains(err.Error(), "holds a worker certificate; want coordinator") {
		t.Fatalf("client to a worker posing as a server: %v, want a refusal naming the role", err)
	}
}

func TestABundleOfTwoCAsTrustsBothDuringRotation(t *testing.T) {
	oldCA, newCADir := newCA(t), newCA(t)
	if err := Issue(oldCA, "c1", RoleCoordinator, []string{"c1"}); err != nil {
		t.Fatal(err)
	}
	if err := Issue(newCADir, "alice", RoleClient, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(oldCA, "ca.crt"))
	b, _ := os.ReadFile(filepath.Join(newCADir, "ca.crt"))
	bundle := filepath.Join(t.TempDir(), "bundle.crt")
	if err := os.WriteFile(bundle, append(a, b...), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, _, err := Load(Files{CA: bundle, Cert: InDir(oldCA, "c1").Cert, Key: InDir(oldCA, "c1").Key})
	if err != nil {
		t.Fatal(err)
	}
	_, cli, err := Load(Files{CA: bundle, Cert: InDir(newCADir, "alice").Cert, Key: InDir(newCADir, "alice").Key})
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, srv, cli); err != nil {
		t.Fatalf("old-CA coordinator and new-CA client under one bundle: %v", err)
	}
	// Without the bundle, the new client is a stranger to the old server.
	srvOld, _, _ := Load(InDir(oldCA, "c1"))
	if err := handshake(t, srvOld, cli); err == nil {
		t.Fatal("a coordinator trusting only the old CA accepted a new-CA client")
	}
}
