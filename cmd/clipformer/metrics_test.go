package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/clipformer/clipformer/internal/certs"
)

// syncBuffer is a bytes.Buffer a command may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWorkerMetricsOnANetworkAddressNeedTLS(t *testing.T) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"worker", "--insecure", "--metrics", "0.0.0.0:0"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--metrics-tls") {
		t.Fatalf("plain-text worker metrics on 0.0.0.0: %v, want a refusal naming --metrics-tls", err)
	}
	err = run(ctx, []string{"worker", "--insecure", "--metrics", "0.0.0.0:0", "--metrics-tls"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--metrics-tls needs --certs") {
		t.Fatalf("--metrics-tls without certificates: %v", err)
	}
}

// A worker started with --metrics-tls serves its metrics on any interface
// with its own certificate, to a scraper holding a client certificate,
// before it has ever reached a coordinator; SIGTERM (ctx) then drains it.
func TestWorkerServesMetricsOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, err := runCmd(t, "certs", "init", "--dir", dir, "--coordinators", "c1", "--workers", "w1", "--clients", "prom"); err != nil {
		t.Fatalf("certs init: %v\n%s", err, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"worker", "--certs", dir, "--identity", "w1", "--coordinators", "127.0.0.1:1", "--slots", "3",
			"--metrics", "0.0.0.0:0", "--metrics-tls"}, io.Discard, &stderr)
	}()
	addr := regexp.MustCompile(`msg=metrics addr=\S*:(\d+) tls=true`)
	var port string
	for deadline := time.Now().Add(20 * time.Second); port == ""; time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			port = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the worker logged no metrics address:\n%s", stderr.String())
		}
	}
	_, promTLS, err := certs.Load(certs.InDir(dir, "prom"))
	if err != nil {
		t.Fatal(err)
	}
	promTLS.VerifyConnection = nil // a scraper checks the chain and the name, not a coordinator role
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: promTLS}}
	resp, err := client.Get("https://127.0.0.1:" + port + "/metrics")
	if err != nil {
		t.Fatalf("scraping the worker over mutual TLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "clipformer_worker_slots 3") {
		t.Fatalf("the worker's metrics lack clipformer_worker_slots 3:\n%.400s", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the worker did not stop after SIGTERM with nothing held")
	}
	if _, err := client.Get("https://127.0.0.1:" + port + "/metrics"); err == nil {
		t.Error("the worker's metrics are still served after it stopped")
	}
}

// health exits 0 only for SERVING; with --live for any answer, and never
// when nothing answers.
func TestHealthLiveAcceptsAnyAnswer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, h)
	go srv.Serve(lis)
	addr := lis.Addr().String()
	if _, _, err := runCmd(t, "health", "--insecure", "--addr", addr); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("health of a coordinator without a leader: %v, want NOT_SERVING", err)
	}
	if out, _, err := runCmd(t, "health", "--insecure", "--live", "--addr", addr); err != nil || !strings.Contains(out, "NOT_SERVING") {
		t.Errorf("health --live of a coordinator without a leader: %v (%q), want success", err, out)
	}
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if _, _, err := runCmd(t, "health", "--insecure", "--addr", addr); err != nil {
		t.Errorf("health of a serving coordinator: %v", err)
	}
	srv.Stop()
	if _, _, err := runCmd(t, "health", "--insecure", "--live", "--addr", addr); err == nil {
		t.Error("health --live succeeded with nothing listening")
	}
}
