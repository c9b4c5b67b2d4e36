package main

import (
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml these tests read.
type composeFile struct {
	Services map[string]struct {
		Command         []string `yaml:"command"`
		Volumes         []string `yaml:"volumes"`
		StopGracePeriod string   `yaml:"stop_grace_period"`
	} `yaml:"services"`
}

// envDefault replaces ${VAR:-default} with its default, as compose does
// when VAR is unset.
var envDefault = regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(envDefault.ReplaceAll(b, []byte("$1")), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return c
}

// TestComposeMountsEachServiceOnlyItsOwnKey holds the rule that no
// container sees a key but its own, and none sees the CA's key: a worker
// that could read ca.key could mint a coordinator certificate.
func TestComposeMountsEachServiceOnlyItsOwnKey(t *testing.T) {
	for name, svc := range readCompose(t).Services {
		var keys []string
		for _, v := range svc.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			dst = strings.TrimSuffix(dst, ":ro")
			switch base := path.Base(src); {
			case base == "ca.key":
				t.Errorf("%s mounts the CA key: %s", name, v)
			case strings.HasSuffix(base, ".key"):
				keys = append(keys, base)
				if base != name+".key" {
					t.Errorf("%s mounts another identity's key: %s", name, v)
				}
			case strings.HasPrefix(src, ".") && !strings.HasSuffix(base, ".crt"):
				t.Errorf("%s mounts a host folder %s, which may hold other keys; mount single files", name, v)
			case strings.HasSuffix(base, ".crt") && !strings.HasPrefix(dst, "/certs/"):
				t.Errorf("%s mounts a certificate outside /certs: %s", name, v)
			}
		}
		if len(keys) > 1 {
			t.Errorf("%s mounts %d keys: %v", name, len(keys), keys)
		}
	}
}

// TestTheImageCarriesNoCertificate checks the Dockerfile and the build
// script: certificates are mounted, never built in.
func TestTheImageCarriesNoCertificate(t *testing.T) {
	df, err := os.ReadFile("../../docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(df), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (strings.EqualFold(f[0], "COPY") || strings.EqualFold(f[0], "ADD")) && (strings.Contains(line, "cert") || strings.Contains(line, ".key")) {
			t.Errorf("docker/Dockerfile:%d copies certificates into the image: %s", i+1, line)
		}
	}
	sh, err := os.ReadFile("../../scripts/docker-build.sh")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`certs init --dir "\$ctx`).Match(sh) || strings.Contains(string(sh), "chmod 644") {
		t.Error("scripts/docker-build.sh writes certificates or readable keys into the build context")
	}
}

func TestComposeWorkersAndCoordinatorsAreConfined(t *testing.T) {
	for name, svc := range readCompose(t).Services {
		cmd := strings.Join(svc.Command, " ")
		switch {
		case strings.HasPrefix(cmd, "coordinator "):
			if svc.StopGracePeriod != "15s" {
				t.Errorf("%s: stop_grace_period %q, want 15s (the coordinator stops within 10 s)", name, svc.StopGracePeriod)
			}
			if m := regexp.MustCompile(`--metrics (\S+)`).FindStringSubmatch(cmd); m != nil && !strings.HasPrefix(m[1], "127.0.0.1:") {
				t.Errorf("%s: metrics on %s, want loopback", name, m[1])
			}
		case strings.HasPrefix(cmd, "worker "):
			m := regexp.MustCompile(`--data-root (\S+)`).FindStringSubmatch(cmd)
			if m == nil {
				t.Errorf("%s: no --data-root: the worker would read anything under --base", name)
				continue
			}
			for _, r := range strings.Split(m[1], ",") {
				if path.Clean(r) == "/" {
					t.Errorf("%s: data root / lets specs name /dev/zero or /proc", name)
				}
			}
		}
	}
}
