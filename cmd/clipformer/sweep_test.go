package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/certs"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/worker"
)

func writeSpec(t *testing.T, model, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spec.yaml")
	y := fmt.Sprintf(`name: cli test
model: {path: %s}
dataset: {kind: mnist, limit: 40}
grid: {gamma: [0, 3], clip: [off, {alpha: 2, beta: 0.25}]}
trials: 2
images_per_shard: 10
profile: {calibration_images: 16}
%s`, model, extra)
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunPrintsTableWritesResultsAndPlotsAndResumes(t *testing.T) {
	spec := writeSpec(t, mnistShapedModel(t), "")
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, err := runCmd(t, "run", "--out", out, "--workers", "2", spec)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"gamma", "ClipFormer", "alpha=2 beta=0.25", "accuracy %", "<SNR> dB", "8/8"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	f, err := os.Open(filepath.Join(out, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 5 || rows[0][11] != "accuracy" || rows[1][9] != "2" || rows[1][10] != "40" {
		t.Fatalf("results.csv: %v %v", rows, err)
	}
	// Gamma 0's second trial (2 points x 4 image ranges) is copied, and
	// every output says so: the plan, the final line, the table's note and
	// shards.csv's copy column.
	for out, want := range map[*string]string{
		&stderr: "8 shards (80 images) are later trials of points whose trials all give the same bits",
		&stdout: "8 of the 32 done shards are copies of trial 0",
	} {
		if !strings.Contains(*out, want) {
			t.Errorf("output lacks %q:\n%s", want, *out)
		}
	}
	if !strings.Contains(stderr, "240 images evaluated") || !strings.Contains(stderr, "8 shards (80 images) copied from trial 0") {
		t.Errorf("the final line does not count the images evaluated and copied: %s", stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "shards.csv")); err != nil || strings.Count(string(b), ",1\n") != 8 || !strings.HasSuffix(strings.SplitN(string(b), "\n", 2)[0], ",copy") {
		t.Errorf("shards.csv does not mark 8 copies: %v\n%s", err, b)
	}
	for _, p := range []string{"results.jsonl", "plot-accuracy.png", "plot-accuracy.svg", "plot-snr.png", "plot-snr.svg"} {
		if st, err := os.Stat(filepath.Join(out, p)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	// The same spec and folder again: the finished sweep is found, not rerun.
	stdout2, stderr2, err := runCmd(t, "run", "--out", out, "--workers", "2", spec)
	if err != nil {
		t.Fatal(err)
	}
	if stdout2 != stdout {
		t.Errorf("resumed run printed a different table:\n%s\nvs\n%s", stdout2, stdout)
	}
	if !strings.Contains(stderr2, "0 images evaluated") {
		t.Errorf("the rerun evaluated images again: %s", stderr2)
	}
}

// `run` writes each shard's outcome to shards.csv, and `results --compare
// off --from` pairs every setting with "off" of its gamma over them: 4
// image blocks x 2 trials, the gain equal to the two rows' accuracy
// difference, the unpaired column sqrt(a^2 + b^2) of their +-95%.
func TestResultsCompareFromARunPairsOverBlocksAndTrials(t *testing.T) {
	spec := writeSpec(t, mnistShapedModel(t), "")
	out := filepath.Join(t.TempDir(), "out")
	if _, stderr, err := runCmd(t, "run", "--out", out, "--workers", "2", spec); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "shards.csv"))
	if err != nil || strings.Count(string(b), "\n") != 1+4*2*4 {
		t.Fatalf("shards.csv: %v; want a header and 32 shards:\n%s", err, b)
	}
	f, err := os.Open(filepath.Join(out, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := report.ReadCSV(f, "results.csv")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	table, stderr, err := runCmd(t, "results", "--compare", "off", "--from", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "paired +-95%") || !strings.Contains(lines[0], "unpaired +-95%") {
		t.Fatalf("compare table: want a header and one row per gamma:\n%s", table)
	}
	for i, gamma := range []float64{0, 3} {
		var off, on report.Row
		for _, r := range rows {
			if r.Gamma == gamma && r.ClipOn {
				on = r
			} else if r.Gamma == gamma {
				off = r
			}
		}
		cells := strings.Fields(lines[i+1])
		// gamma, sigma_r, "alpha=2" "beta=0.25", off, "4" "x" "2", gain, paired,
		// unpaired (table), unpaired (two-way), ratio, p
		if len(cells) != 14 || cells[0] != fmt.Sprint(gamma) || cells[5]+cells[6]+cells[7] != "4x2" {
			t.Fatalf("row %q: want gamma %g over 4 x 2 units", lines[i+1], gamma)
		}
		if want := fmt.Sprintf("%+.2f", on.Accuracy-off.Accuracy); cells[8] != want {
			t.Errorf("gamma %g: gain %s, the rows' difference %s", gamma, cells[8], want)
		}
		if want := fmt.Sprintf("%.2f", math.Hypot(on.CI95, off.CI95)); cells[10] != want {
			t.Errorf("gamma %g: unpaired %s, want %s from the rows' +-95%%", gamma, cells[10], want)
		}
	}
	if _, _, err := runCmd(t, "results", "--compare", "1,1", "--from", out); err == nil || !strings.Contains(err.Error(), `no point has the ClipFormer setting "alpha=1 beta=1"`) {
		t.Errorf("a baseline the sweep lacks: %v", err)
	}
	// --race replays a race per gamma over the same shards: rounds of one
	// 10-image block in both trials, at most the 2 x 80 images of the grid.
	race, stderr, err := runCmd(t, "results", "--race", "--race-block", "10", "--from", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines = strings.Split(strings.TrimSpace(race), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "full-grid best") {
		t.Fatalf("race table: want a header and one row per gamma:\n%s", race)
	}
	for _, l := range lines[1:] {
		cells := strings.Fields(l)
		if len(cells) < 6 || cells[2] != "2" || !strings.Contains(l, " 160 ") {
			t.Errorf("race row %q: want 2 settings of a 160-image full grid", l)
		}
		if !strings.Contains(l, ": the best ") && !strings.Contains(l, ": tied ") && !strings.Contains(l, ": worse ") {
			t.Errorf("race row %q: want the full grid's gap to the winner with a verdict", l)
		}
	}
	// A budget of 50 % of the grid stops each race at its last round
	// that fits: 2 settings x 2 trials x 10 images cost 40 a round.
	race, stderr, err = runCmd(t, "results", "--race", "--race-block", "10", "--race-budget", "50", "--from", out)
	if err != nil || !strings.Contains(race, "budget spent") || !strings.Contains(race, " 80 ") {
		t.Errorf("--race-budget 50: %v\n%s%s; want the budget spent after 80 of 160 images", err, race, stderr)
	}
	if _, _, err := runCmd(t, "results", "--race", "--race-draws", "some", "--from", out); err == nil || !strings.Contains(err.Error(), "given, over") {
		t.Errorf("--race-draws some: %v; want an error naming the choices", err)
	}
	if _, _, err := runCmd(t, "results", "--race", "--race-block", "15", "--from", out); err == nil || !strings.Contains(err.Error(), "not a multiple") {
		t.Errorf("--race-block 15 with 10-image shards: %v; want an error", err)
	}
}

func TestRunRefusesABadSpecNamingTheField(t *testing.T) {
	spec := writeSpec(t, "m.safetensors", "")
	b, _ := os.ReadFile(spec)
	os.WriteFile(spec, []byte(strings.Replace(string(b), "beta: 0.25", "beta: 1.5", 1)), 0o644)
	_, _, err := runCmd(t, "run", spec)
	if err == nil || !strings.Contains(err.Error(), "grid.clip[1].beta: 1.5 is outside [0.01, 1]") {
		t.Fatalf("err = %v", err)
	}
}

// TestRunChecksEveryInputBeforeTheFirstShard: a spec naming a missing model
// or data set fails at once, naming the field and the path, without running
// a shard, writing results or clearing a recorded run (even with --fresh).
func TestRunChecksEveryInputBeforeTheFirstShard(t *testing.T) {
	model := mnistShapedModel(t)
	emptyDir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "no-such-folder")
	for _, c := range []struct{ name, model, data, want string }{
		{"missing data folder", model, "{kind: folder, path: " + missing + ", limit: 40}", "dataset.path: " + missing + " does not exist"},
		{"missing model", filepath.Join(emptyDir, "gone.safetensors"), "{kind: mnist, limit: 40}", "model.path: " + filepath.Join(emptyDir, "gone.safetensors") + " does not exist"},
		{"folder without images", model, "{kind: folder, path: " + emptyDir + ", limit: 40}", "dataset: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			spec := filepath.Join(dir, "spec.yaml")
			y := fmt.Sprintf("model: {path: %s}\ndataset: %s\ngrid: {gamma: [0]}\nimages_per_shard: 10\n", c.model, c.data)
			if err := os.WriteFile(spec, []byte(y), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			kept := filepath.Join(out, "state", "raft.db")
			if err := os.MkdirAll(filepath.Dir(kept), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(kept, []byte("a recorded run"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, err := runCmd(t, "run", "--fresh", "--out", out, "--workers", "1", spec)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "spec.yaml") {
				t.Fatalf("err = %v, want it to name spec.yaml and contain %q", err, c.want)
			}
			if strings.Contains(stderr, "shards") || strings.Contains(stderr, "done in") {
				t.Errorf("the sweep started:\n%s", stderr)
			}
			if _, err := os.Stat(filepath.Join(out, "results.csv")); err == nil {
				t.Error("results.csv was written")
			}
			if b, err := os.ReadFile(kept); err != nil || string(b) != "a recorded run" {
				t.Errorf("the recorded run was lost: %q %v", b, err)
			}
		})
	}
}

// startCoordinator runs a one-node coordinator with mutual TLS and a worker.
func startCoordinator(t *testing.T, certDir string) string {
	t.Helper()
	srvTLS, cliTLS, err := certs.Load(certs.InDir(certDir, "coordinator"))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_, trans := raft.NewInmemTransport("c1")
	node, err := coordinator.NewNode(coordinator.Config{ID: "c1", GRPCAdvertise: addr, Transport: trans, InMemory: true, Fast: true,
		RaftLog: io.Discard, Peers: []coordinator.Peer{{ID: "c1", Raft: "c1", GRPC: addr}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(coordinator.ServerOptions(srvTLS)...)
	node.Register(srv, cliTLS)
	go srv.Serve(lis)
	_, workerTLS, err := certs.Load(certs.InDir(certDir, "worker"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	exec := &worker.Executor{Threads: 1}
	w := worker.New(worker.Config{ID: "w1", Coordinators: []string{addr}, Slots: 2, Run: exec.Run, TLS: workerTLS})
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Stop()
		node.Shutdown()
	})
	return addr
}

func TestClusterCommandsOverMutualTLS(t *testing.T) {
	certDir := t.TempDir()
	if _, _, err := runCmd(t, "certs", "init", "--dir", certDir); err != nil {
		t.Fatal(err)
	}
	addr := startCoordinator(t, certDir)
	model := mnistShapedModel(t)
	spec := writeSpec(t, model, "")
	cl := []string{"--coordinators", addr, "--certs", certDir}
	// cmd runs a client command: its flags, the cluster flags, then the
	// positional arguments.
	cmd := func(flags []string, pos ...string) string {
		t.Helper()
		args := append(append(append([]string(nil), flags...), cl...), pos...)
		out, errOut, err := runCmd(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut)
		}
		return out
	}
	id := strings.TrimSpace(cmd([]string{"submit", "--watch"}, spec))
	if !strings.Contains(cmd([]string{"list"}), id+"  done") {
		t.Fatalf("list does not show %s done", id)
	}
	status := cmd([]string{"status"})
	if !strings.Contains(status, "leader c1") || !strings.Contains(status, "w1") {
		t.Fatalf("status:\n%s", status)
	}
	if table := cmd([]string{"results"}, id); !strings.Contains(table, "alpha=2 beta=0.25") {
		t.Fatalf("results table:\n%s", table)
	}
	// --compare over a cluster pairs over the trials the coordinator serves.
	if cmp := cmd([]string{"results", "--compare", "off"}, id); strings.Count(cmp, "alpha=2 beta=0.25") != 2 || strings.Count(cmp, "1 x 2") != 2 {
		t.Fatalf("results --compare off: want one row per gamma over 1 block x 2 trials:\n%s", cmp)
	}
	pq := filepath.Join(t.TempDir(), "r.parquet")
	cmd([]string{"results", "--format", "parquet", "--out", pq}, id)
	if b, err := os.ReadFile(pq); err != nil || len(b) < 100 || string(b[:4]) != "PAR1" {
		t.Fatalf("parquet file: %d bytes, %v", len(b), err)
	}
	if plots := cmd([]string{"plot", "--out", filepath.Join(t.TempDir(), "p"), "--format", "svg"}, id); strings.Count(plots, ".svg") != 2 {
		t.Fatalf("plot wrote:\n%s", plots)
	}

	// Pause, resume and cancel a second, longer sweep.
	big := writeSpec(t, model, "")
	b, _ := os.ReadFile(big)
	os.WriteFile(big, []byte(strings.Replace(string(b), "limit: 40", "limit: 10000", 1)), 0o644)
	id2 := strings.TrimSpace(cmd([]string{"submit"}, big))
	for _, step := range []struct{ verb, want string }{{"pause", "paused"}, {"resume", "running"}, {"cancel", "cancelled"}} {
		if got := cmd([]string{step.verb}, id2); !strings.Contains(got, step.want) {
			t.Fatalf("%s: %s", step.verb, got)
		}
	}

	// list --json: one object per line, with the fields scripts read.
	var seen bool
	for _, line := range strings.Split(strings.TrimSpace(cmd([]string{"list", "--json"})), "\n") {
		var sw map[string]any
		if err := json.Unmarshal([]byte(line), &sw); err != nil {
			t.Fatalf("list --json line %q: %v", line, err)
		}
		for _, k := range []string{"id", "state", "owner", "attempts", "duplicate_results", "recomputed_shards", "progress"} {
			if _, ok := sw[k]; !ok {
				t.Fatalf("list --json line %q has no %q", line, k)
			}
		}
		if sw["id"] == id2 {
			seen = true
			if sw["state"] != "SWEEP_STATE_CANCELLED" || sw["owner"] != "client" {
				t.Fatalf("list --json: %v; want cancelled, owned by the client certificate", line)
			}
		}
	}
	if !seen {
		t.Fatalf("list --json does not show %s", id2)
	}
	// Delete: a finished sweep goes; a running one must be cancelled first.
	if got := cmd([]string{"delete"}, id2); !strings.Contains(got, "deleted "+id2) {
		t.Fatalf("delete: %q", got)
	}
	if strings.Contains(cmd([]string{"list"}), id2) {
		t.Fatalf("list still shows the deleted %s", id2)
	}
	// Paths are checked before submitting: an error without model.sha256,
	// a warning with it (the files may be on the workers only).
	missing := filepath.Join(t.TempDir(), "missing")
	noData := writeSpec(t, model, "")
	b, _ = os.ReadFile(noData)
	os.WriteFile(noData, []byte(strings.Replace(string(b), "{kind: mnist, limit: 40}", "{kind: idx, path: "+missing+", limit: 40}", 1)), 0o644)
	if _, _, err := runCmd(t, append(append([]string{"submit"}, cl...), noData)...); err == nil || !strings.Contains(err.Error(), "dataset.path") {
		t.Fatalf("submit of a spec naming a missing dataset folder: %v; want an error naming dataset.path", err)
	}
	remote := writeSpec(t, missing+".safetensors", "")
	b, _ = os.ReadFile(remote)
	os.WriteFile(remote, []byte(strings.Replace(string(b), ".safetensors}", ".safetensors, sha256: "+strings.Repeat("ab", 32)+"}", 1)), 0o644)
	out, errOut, err := runCmd(t, append(append([]string{"submit"}, cl...), remote)...)
	if err != nil || !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, "model.path") {
		t.Fatalf("submit of a spec with model.sha256 and no local model: %v; stderr %q; want it submitted with a warning", err, errOut)
	}
	id3 := strings.TrimSpace(out)
	if _, _, err := runCmd(t, append(append([]string{"delete"}, cl...), id3)...); err == nil || !strings.Contains(err.Error(), "cancel it") {
		t.Fatalf("delete of a running sweep: %v; want it refused until cancelled", err)
	}
	cmd([]string{"cancel"}, id3)
	cmd([]string{"delete"}, id3)

	// Without a certificate: refused; with --insecure against TLS: refused.
	noCert := t.TempDir()
	os.Link(filepath.Join(certDir, "ca.crt"), filepath.Join(noCert, "ca.crt"))
	if _, _, err := runCmd(t, "list", "--coordinators", addr, "--certs", noCert); err == nil {
		t.Fatal("list without a client certificate succeeded")
	}
	if _, _, err := runCmd(t, "list", "--coordinators", addr); err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("no TLS choice: %v", err)
	}
	if out, _, err := runCmd(t, "health", "--addr", addr, "--certs", certDir); err != nil || !strings.Contains(out, "SERVING") {
		t.Fatalf("health: %q %v", out, err)
	}
}

// The coordinator refuses quota and retention flags that make no sense
// before it opens anything, naming the flag. Its context is cancelled
// from the start, so a coordinator that accepted them would stop at once
// without an error.
func TestCoordinatorRefusesBadQuotaAndRetentionFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--quota-sweeps", "0"}, "--quota-sweeps 0"},
		{[]string{"--quota-sweeps", "-2"}, "--quota-sweeps -2"},
		{[]string{"--retention", "-1s"}, "--retention -1s"},
	} {
		args := append([]string{"coordinator", "--id", "c1", "--data", t.TempDir(), "--insecure", "--listen", "127.0.0.1:0"}, c.args...)
		err := run(ctx, args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want an error naming %q", c.args, err, c.want)
		}
	}
}
