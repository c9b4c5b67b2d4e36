package metricsserve_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clipformer/clipformer/internal/certs"
	"github.com/clipformer/clipformer/internal/metricsserve"
)

func testRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_test_total", Help: "test"})
	c.Inc()
	reg.MustRegister(c)
	return reg
}

func scrape(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestMetricsListenOnLoopbackByDefault(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, addr := range []string{":0", "0", "127.0.0.1:0", "localhost:0"} {
		m, err := metricsserve.Serve(addr, testRegistry(), nil, log)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		host, _, _ := net.SplitHostPort(m.Addr().String())
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("--metrics %s listens on %s, want loopback", addr, m.Addr())
		}
		body, err := scrape(&http.Client{Timeout: 5 * time.Second}, "http://"+m.Addr().String()+"/metrics")
		if err != nil || !strings.Contains(body, "clipformer_test_total 1") {
			t.Errorf("scraping %s: %v, %.80q", m.Addr(), err, body)
		}
		m.Close()
	}
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "c1:0", "10.1.2.3:9100"} {
		if m, err := metricsserve.Serve(addr, testRegistry(), nil, log); !errors.Is(err, metricsserve.ErrExposed) {
			if m != nil {
				m.Close()
			}
			t.Errorf("plain-text metrics on %s: %v, want ErrExposed", addr, err)
		} else if !strings.Contains(err.Error(), "--metrics-tls") {
			t.Errorf("refusal %q does not say how to expose them", err)
		}
	}
}

func TestMetricsOverMutualTLSOnAnyInterface(t *testing.T) {
	dir := t.TempDir()
	if err := certs.CreateCA(dir); err != nil {
		t.Fatal(err)
	}
	for _, id := range []struct{ name, role string }{{"c1", certs.RoleCoordinator}, {"prom", certs.RoleClient}, {"w1", certs.RoleWorker}} {
		if err := certs.Issue(dir, id.name, id.role, []string{"127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	srvTLS, _, err := certs.Load(certs.InDir(dir, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := metricsserve.Serve("0.0.0.0:0", testRegistry(), srvTLS, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, port, _ := net.SplitHostPort(m.Addr().String())
	url := "https://127.0.0.1:" + port + "/metrics"
	client := func(cfg *tls.Config) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	_, promTLS, _ := certs.Load(certs.InDir(dir, "prom"))
	if body, err := scrape(client(promTLS), url); err != nil || !strings.Contains(body, "clipformer_test_total 1") {
		t.Fatalf("a client certificate scraping: %v, %.80q", err, body)
	}
	_, workerTLS, _ := certs.Load(certs.InDir(dir, "w1"))
	noCert := promTLS.Clone()
	noCert.Certificates = nil
	for what, cfg := range map[string]*tls.Config{"a worker certificate": workerTLS, "no certificate": noCert} {
		if _, err := scrape(client(cfg), url); err == nil {
			t.Errorf("%s scraped the metrics", what)
		}
	}
	// Plain HTTP gets at most Go's "HTTP request to an HTTPS server" answer.
	if body, err := scrape(&http.Client{Timeout: 5 * time.Second}, "http://127.0.0.1:"+port+"/metrics"); err == nil && strings.Contains(body, "clipformer_") {
		t.Error("plain HTTP scraped TLS metrics")
	}
}
