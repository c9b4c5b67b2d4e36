package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/certs"
)

func TestCertsInitIssuesEveryRoleAndKeepsWhatIsThere(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, err := runCmd(t, "certs", "init", "--dir", dir, "--coordinators", "c1,c2", "--workers", "w1,w2"); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, name := range []string{"ca", "c1", "c2", "w1", "w2", "client", "admin"} {
		if !certs.Exists(dir, name) {
			t.Errorf("certs init made no %s.crt/.key", name)
		}
	}
	key := func(name string) string { b, _ := os.ReadFile(filepath.Join(dir, name+".key")); return string(b) }
	w1 := key("w1")
	if _, _, err := runCmd(t, "certs", "init", "--dir", dir, "--coordinators", "c1,c2", "--workers", "w1,w2,w3"); err != nil {
		t.Fatal(err)
	}
	if key("w1") != w1 || !certs.Exists(dir, "w3") {
		t.Fatal("a second init replaced an identity or did not add the new one")
	}
	// issue replaces one identity: a rotation with the same CA.
	if _, _, err := runCmd(t, "certs", "issue", "--dir", dir, "--name", "w1", "--role", "worker"); err != nil {
		t.Fatal(err)
	}
	if key("w1") == w1 {
		t.Fatal("certs issue kept the old key")
	}
	if _, _, err := runCmd(t, "certs", "issue", "--dir", dir, "--name", "ca", "--role", "admin"); err == nil {
		t.Fatal("an identity named ca was issued over the CA")
	}
}

func TestAWorkersIDIsItsCertificateName(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runCmd(t, "certs", "init", "--dir", dir, "--workers", "w7"); err != nil {
		t.Fatal(err)
	}
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("worker", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("id", "host", "")
		return fs
	}
	_, w7, _ := certs.Load(certs.InDir(dir, "w7"))
	fs := newFS()
	if id, err := workerID(fs, "host", w7); err != nil || id != "w7" {
		t.Fatalf("default id with the w7 certificate = %q, %v; want w7", id, err)
	}
	fs.Parse([]string{"--id", "w8"})
	if id, err := workerID(fs, "w8", w7); err != nil || id != "w7/w8" {
		t.Fatalf("--id w8 with the w7 certificate = %q, %v; want w7/w8", id, err)
	}
	_, client, _ := certs.Load(certs.InDir(dir, "client"))
	if _, err := workerID(newFS(), "host", client); err == nil || !strings.Contains(err.Error(), "a worker needs a worker certificate") {
		t.Fatalf("a worker with a client certificate: %v", err)
	}
	if id, err := workerID(newFS(), "host", nil); err != nil || id != "host" {
		t.Fatalf("plain text: %q %v", id, err)
	}
}

func TestOnlyAnAdminIdentityChangesTheCluster(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runCmd(t, "certs", "init", "--dir", dir); err != nil {
		t.Fatal(err)
	}
	addr := startCoordinator(t, dir)
	cl := []string{"--coordinators", addr, "--certs", dir}
	_, _, err := runCmd(t, append([]string{"cluster", "remove"}, append(cl, "c9")...)...)
	if err == nil || !strings.Contains(err.Error(), "PermissionDenied") || !strings.Contains(err.Error(), `client "client" may not call /clipformer.v1.Cluster/RemoveCoordinator`) {
		t.Fatalf("a client removing a coordinator: %v, want PermissionDenied naming the role and the method", err)
	}
	_, _, err = runCmd(t, append([]string{"cluster", "remove", "--identity", "admin"}, append(cl, "c9")...)...)
	if err != nil && strings.Contains(err.Error(), "PermissionDenied") {
		t.Fatalf("an admin removing a coordinator: %v", err)
	}
	t.Setenv("CLIPFORMER_IDENTITY", "admin")
	_, _, err = runCmd(t, append([]string{"cluster", "remove"}, append(cl, "c9")...)...)
	if err != nil && strings.Contains(err.Error(), "PermissionDenied") {
		t.Fatalf("$CLIPFORMER_IDENTITY=admin removing a coordinator: %v", err)
	}
}

func TestMetricsOnANetworkAddressNeedTLS(t *testing.T) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the coordinator stops at once if it starts at all
	err := run(ctx, []string{"coordinator", "--insecure", "--id", "c1", "--data", t.TempDir(), "--raft-bind", "127.0.0.1:0",
		"--raft-advertise", "127.0.0.1:1", "--listen", "127.0.0.1:0", "--peer", "c1,127.0.0.1:1,127.0.0.1:2", "--metrics", "0.0.0.0:0"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--metrics-tls") {
		t.Fatalf("plain-text metrics on 0.0.0.0: %v, want a refusal naming --metrics-tls", err)
	}
	err = run(ctx, []string{"coordinator", "--insecure", "--id", "c1", "--data", t.TempDir(), "--raft-bind", "127.0.0.1:0",
		"--raft-advertise", "127.0.0.1:1", "--listen", "127.0.0.1:0", "--peer", "c1,127.0.0.1:1,127.0.0.1:2", "--metrics", "0.0.0.0:0", "--metrics-tls"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--metrics-tls needs --certs") {
		t.Fatalf("--metrics-tls without certificates: %v", err)
	}
}
