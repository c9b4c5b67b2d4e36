package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clipformer/clipformer/internal/ui"
)

func TestUITokenIsOneTheDashboardAccepts(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"certs", "init", "--dir", dir, "--clients", "alice", "--admins", "root"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	pem, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	for _, id := range []struct{ name, role string }{{"alice", ui.RoleClient}, {"root", ui.RoleAdmin}} {
		out.Reset()
		if err := run(context.Background(), []string{"ui", "token", "--certs", dir, "--identity", id.name, "--ttl", "1h"}, &out, &errb); err != nil {
			t.Fatalf("ui token for %s: %v", id.name, err)
		}
		c, err := ui.VerifyToken(strings.TrimSpace(out.String()), roots, time.Now())
		if err != nil || c.Role != id.role || c.Name != id.name {
			t.Errorf("%s's token: %+v, %v", id.name, c, err)
		}
		if _, err := ui.VerifyToken(strings.TrimSpace(out.String()), roots, time.Now().Add(2*time.Hour)); err == nil {
			t.Errorf("%s's one-hour token is valid two hours later", id.name)
		}
	}
	for _, args := range [][]string{
		{"ui", "token", "--certs", dir, "--identity", "worker"}, // a worker may not
		{"ui", "token", "--insecure"},                           // nothing to sign with
		{"ui", "token", "--certs", dir, "--identity", "alice", "--ttl", "1000h"},
	} {
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%q gave a token", args)
		}
	}
}

func TestDashboardOnANetworkAddressNeedsCertificates(t *testing.T) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"coordinator", "--insecure", "--id", "c1", "--data", t.TempDir(), "--raft-bind", "127.0.0.1:0",
		"--raft-advertise", "127.0.0.1:1", "--listen", "127.0.0.1:0", "--peer", "c1,127.0.0.1:1,127.0.0.1:2", "--ui", "0.0.0.0:0"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--ui") || !strings.Contains(err.Error(), "needs TLS") {
		t.Fatalf("a plain-text dashboard on 0.0.0.0: %v, want a refusal naming --ui and TLS", err)
	}
}

// TestComposeServesTheDashboardOnOnePort holds that every coordinator
// serves the dashboard (over TLS: a non-loopback address) and that the
// host reaches one of them on one published port.
func TestComposeServesTheDashboardOnOnePort(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
			Ports   []string `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(envDefault.ReplaceAll(b, []byte("$1")), &c); err != nil {
		t.Fatal(err)
	}
	published := 0
	for name, svc := range c.Services {
		if len(svc.Command) == 0 || svc.Command[0] != "coordinator" {
			continue
		}
		i := slices.Index(svc.Command, "--ui")
		if i < 0 || i+1 >= len(svc.Command) {
			t.Errorf("%s serves no dashboard", name)
			continue
		}
		_, port, _ := strings.Cut(svc.Command[i+1], ":")
		for _, p := range svc.Ports {
			if strings.HasSuffix(p, ":"+port) {
				published++
			}
		}
	}
	if published != 1 {
		t.Errorf("the dashboard is published on %d ports, want 1", published)
	}
}
