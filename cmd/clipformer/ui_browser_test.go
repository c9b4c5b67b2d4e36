package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The dashboard in a real browser: Debian's chromium, driven by chromedp,
// against `clipformer run --ui`. CLIPFORMER_BROWSER=1 runs these tests
// (scripts/test.sh sets it); without chromium they skip, loudly.

// findChromium returns chromium's path, or skips the test loudly.
func findChromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("CLIPFORMER_BROWSER") == "" {
		t.Skip("the browser tests run with CLIPFORMER_BROWSER=1 (scripts/test.sh sets it)")
	}
	for _, name := range []string{os.Getenv("CLIPFORMER_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "NO CHROMIUM FOUND: the dashboard's browser tests did NOT run (scripts/install-deps.sh installs Debian's chromium)"
	fmt.Fprintf(os.Stderr, "\n%s\n## %s\n%s\n\n", strings.Repeat("#", len(msg)+3), msg, strings.Repeat("#", len(msg)+3))
	t.Skip(msg)
	return ""
}

// browserSpec is a small sweep of the bundled MNIST ViT: 3 gammas by 3
// settings, 2 trials of 100 images in 10-image shards, 180 shards.
func browserSpec(t *testing.T) string {
	t.Helper()
	// Relative to the package folder, where the test runs: the spec page
	// (and the screenshots) show no path of this machine.
	model := "../../models/vit-mnist.safetensors"
	spec := filepath.Join(t.TempDir(), "dashboard.yaml")
	y := fmt.Sprintf(`name: dashboard browser test
model: {path: %s}
dataset: {kind: mnist, limit: 100}
grid:
  gamma: [0, 2, 4]
  clip: [off, {alpha: 2, beta: 0.25}, {alpha: 4, beta: 0.5}]
trials: 2
seed: 5
images_per_shard: 10
`, model)
	if err := os.WriteFile(spec, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return spec
}

// startRunUI starts `clipformer run --ui` and returns the dashboard's URL,
// the output folder and a function that interrupts the run and waits for
// it.
func startRunUI(t *testing.T) (base, out string, stop func()) {
	t.Helper()
	out = filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--ui", "127.0.0.1:0", "--workers", "1", "--out", out, browserSpec(t)}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`dashboard: (http://\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			base = strings.TrimSuffix(m[1], "/")
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before serving the dashboard: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dashboard address within a minute:\n%s", stderr.String())
		}
	}
	return base, out, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v\n%s", err, stderr.String())
		}
	}
}

// newBrowser starts headless chromium.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1366, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// waitJS evaluates expr in the page until it is true, for up to limit.
func waitJS(t *testing.T, ctx context.Context, what, expr string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%s)", what, expr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsInt(t *testing.T, ctx context.Context, expr string) int {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %q", expr, v)
	}
	return n
}

// screenshot saves the page at a width, as a phone (mobile) or a laptop,
// into the repository's out/dashboard.
func screenshot(t *testing.T, ctx context.Context, name string, width, height int64, mobile bool) {
	t.Helper()
	emulate := chromedp.EmulateViewport(width, height)
	if mobile {
		emulate = chromedp.EmulateViewport(width, height, chromedp.EmulateScale(2), chromedp.EmulateMobile)
	}
	// A moment for the layout of the new width.
	if err := chromedp.Do(ctx, emulate, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "out", "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// click clicks the element sel, again if a live update replaced it
// between finding it and clicking it (pausing or resuming twice does no
// harm).
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := chromedp.Do(ctx, chromedp.Click(sel))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("click %s: %v", sel, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const sweepRow = `document.querySelector('tr[data-sweep]')`

func TestBrowserDashboardFollowsAndControlsARun(t *testing.T) {
	chromium := findChromium(t)
	base, out, stop := startRunUI(t)
	defer stop()
	ctx := newBrowser(t, chromium)

	// The sweeps page advances by itself: the same page (a marker set in
	// it survives) shows the done count grow twice.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`tr[data-sweep]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	first := jsInt(t, ctx, sweepRow+`.dataset.done`)
	for i, want := range []int{first + 1, first + 2} {
		waitJS(t, ctx, fmt.Sprintf("live update %d", i+1), fmt.Sprintf(`+%s.dataset.done >= %d && window.notReloaded === true`, sweepRow, want), time.Minute)
	}
	screenshot(t, ctx, "sweeps-laptop.png", 1366, 900, false)

	// Pause from the sweeps page, see it paused, resume from the sweep's page.
	click(t, ctx, `form[action$="/pause"] button`)
	waitJS(t, ctx, "the sweep paused", `location.pathname.startsWith('/sweeps/') && `+sweepRow+`.dataset.state === 'paused'`, 30*time.Second)
	click(t, ctx, `form[action$="/resume"] button`)
	waitJS(t, ctx, "the sweep running again", sweepRow+`.dataset.state === 'running'`, 30*time.Second)
	waitJS(t, ctx, "the sweep done", sweepRow+`.dataset.state === 'done'`, 5*time.Minute)

	// The plot has one line per ClipFormer setting, filled in live.
	waitJS(t, ctx, "three lines of three points in the accuracy plot",
		`[...document.querySelectorAll('#fig-accuracy path.series')].map(p => (p.getAttribute('d').match(/[ML]/g) || []).length).join() === '3,3,3'`, 30*time.Second)
	settings, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#fig-accuracy path.series')].map(p => p.dataset.series)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(settings, ";") != "ClipFormer off;alpha=2 beta=0.25;alpha=4 beta=0.5" {
		t.Errorf("plot lines: %q", settings)
	}
	checkTableAgainstCSV(t, ctx, base, out)
	screenshot(t, ctx, "sweep-laptop.png", 1366, 900, false)
	screenshot(t, ctx, "sweep-phone.png", 390, 844, true)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`tr[data-sweep]`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "sweeps-phone.png", 390, 844, true)
}

// checkTableAgainstCSV compares the page's per-point table with the
// results.csv that run wrote (report's CSV writer, as `clipformer results
// --format csv` uses) and the dashboard's CSV download with that file.
func checkTableAgainstCSV(t *testing.T, ctx context.Context, base, out string) {
	t.Helper()
	var file []byte
	deadline := time.Now().Add(time.Minute)
	for {
		var err error
		if file, err = os.ReadFile(filepath.Join(out, "results.csv")); err == nil && len(file) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run wrote no results.csv: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + loc + "/results.csv")
	if err != nil {
		t.Fatal(err)
	}
	download, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(download, file) {
		t.Errorf("the dashboard's results.csv differs from run's:\n%s\nrun's:\n%s", download, file)
	}
	records, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	table, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#points-table tbody tr')].map(tr => [...tr.querySelectorAll('[data-v]')].map(td => td.dataset.v))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != len(records)-1 {
		t.Fatalf("the page's table has %d rows, results.csv %d", len(table), len(records)-1)
	}
	col := map[string]int{}
	for i, h := range records[0] {
		col[h] = i
	}
	for i, rec := range records[1:] {
		for j, name := range []string{"gamma", "clip", "accuracy", "ci95", "snr_db"} {
			if table[i][j] != rec[col[name]] {
				t.Errorf("row %d %s: page %q, results.csv %q", i, name, table[i][j], rec[col[name]])
			}
		}
	}
}
