package ui

import (
	"bufio"
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// waitFor retries cond until it holds or ten seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// changer is a Source's Changed: change closes the current channel.
type changer struct {
	mu    sync.Mutex
	ch    chan struct{}
	calls int // of changed
}

func (c *changer) called() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func (c *changer) changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

func (c *changer) change() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
	}
	c.ch = make(chan struct{})
}

func TestHubCoalescesChangesDuringItsPauseIntoOneRefresh(t *testing.T) {
	var c changer
	h := newHub(c.changed, time.Hour, time.Hour)
	pause := make(chan time.Time)
	pauses := 0
	var mu sync.Mutex
	h.after = func(time.Duration) <-chan time.Time {
		mu.Lock()
		pauses++
		mu.Unlock()
		return pause
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); h.run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "the hub to wait for a change", func() bool { return c.called() == 1 })
	c.change()
	waitFor(t, "the first refresh", func() bool { return h.current() == 1 })
	for range 50 {
		c.change() // all inside the pause
	}
	if v := h.current(); v != 1 {
		t.Fatalf("version %d during the pause, want 1", v)
	}
	pause <- time.Now() // the pause ends: one refresh covers the 50 changes
	waitFor(t, "the second refresh", func() bool { return h.current() == 2 })
	waitFor(t, "the second pause", func() bool { mu.Lock(); defer mu.Unlock(); return pauses == 2 })
	if v := h.current(); v != 2 {
		t.Errorf("version %d after 50 changes in one pause, want 2", v)
	}
}

func TestASubscriberThatNeverReadsNeverBlocksTheHub(t *testing.T) {
	var c changer
	h := newHub(c.changed, time.Millisecond, time.Hour)
	slow, unsubscribe := h.subscribe()
	defer unsubscribe()
	fast, unsubscribeFast := h.subscribe()
	defer unsubscribeFast()
	for range 1000 {
		h.broadcast() // would hang on a blocking send to slow
		select {
		case <-fast:
		default:
			t.Fatal("the reading subscriber missed a refresh")
		}
	}
	if n := len(slow); n != 1 {
		t.Errorf("the slow subscriber holds %d signals, want 1 (drop and refresh)", n)
	}
}

// eventReader reads a page's event stream.
type eventReader struct {
	sc *bufio.Scanner
}

// next returns the next region event's id and HTML.
func (e *eventReader) next(t *testing.T) (string, string) {
	t.Helper()
	for {
		event, data := e.event(t)
		if event == "region" {
			return data[0], strings.Join(data[1:], "\n")
		}
	}
}

// event returns the next event's name and data lines.
func (e *eventReader) event(t *testing.T) (string, []string) {
	t.Helper()
	var event string
	var data []string
	for e.sc.Scan() {
		line := e.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		case line == "" && event != "":
			return event, data
		case line == "":
			data = nil
		}
	}
	t.Fatalf("event stream ended: %v", e.sc.Err())
	return "", nil
}

var doneRE = regexp.MustCompile(`data-sweep="s1" data-state="(\w+)" data-done="(\d+)"`)

func TestEventStreamSendsTheSweepsTableAgainWhenItChanges(t *testing.T) {
	src := newStateSource()
	spec := mustSpec(t, smallSpec)
	src.submit(t, "s1", spec, 10, 0)
	s, err := New(Config{Addr: "127.0.0.1:0", Source: src, MinInterval: time.Millisecond, Tick: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); s.hub.run(ctx) }()
	defer func() { cancel(); <-hubDone }()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/events?page=/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	ev := &eventReader{sc: bufio.NewScanner(resp.Body)}
	ev.sc.Buffer(nil, 1<<20)
	id, html := ev.next(t)
	if m := doneRE.FindStringSubmatch(html); id != "sweeps" || m == nil || m[1] != "running" || m[2] != "10" {
		t.Fatalf("first event: %s %q", id, html)
	}
	if err := src.Act(t.Context(), LoopbackCaller, ActionPause, "s1"); err != nil {
		t.Fatal(err)
	}
	_, html = ev.next(t)
	if m := doneRE.FindStringSubmatch(html); m == nil || m[1] != "paused" {
		t.Fatalf("after pause: %q", html)
	}
}

func TestDownloadAndTableMatchTheResultsCSV(t *testing.T) {
	src := newStateSource()
	spec := mustSpec(t, smallSpec)
	id := src.submit(t, "s1", spec, 100, 10)
	s, err := New(Config{Addr: "127.0.0.1:0", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1"+path, nil))
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		return w.Body.String()
	}
	res, _ := src.Results(t.Context(), id)
	var want strings.Builder
	if err := report.WriteCSV(&want, report.Rows(id, spec, res)); err != nil {
		t.Fatal(err)
	}
	if got := get("/sweeps/s1/results.csv"); got != want.String() {
		t.Errorf("results.csv differs from report.WriteCSV:\n%s\nwant\n%s", got, want.String())
	}
	records, err := csv.NewReader(strings.NewReader(want.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	table := tableOf(get("/sweeps/s1"))
	if len(table) != len(records)-1 {
		t.Fatalf("table has %d rows, the CSV %d", len(table), len(records)-1)
	}
	col := map[string]int{}
	for i, h := range records[0] {
		col[h] = i
	}
	for i, rec := range records[1:] {
		got := table[i]
		for _, c := range []string{"gamma", "clip", "accuracy", "ci95", "snr_db"} {
			if got[c] != rec[col[c]] {
				t.Errorf("row %d %s: page %q, CSV %q", i, c, got[c], rec[col[c]])
			}
		}
	}
}

var rowRE = regexp.MustCompile(`(?s)<tr data-point="\d+">(.*?)</tr>`)
var cellRE = regexp.MustCompile(`data-v="([^"]*)"`)

// tableOf reads the per-point table's exact values, by CSV column.
func tableOf(html string) []map[string]string {
	var out []map[string]string
	for _, r := range rowRE.FindAllStringSubmatch(html, -1) {
		v := cellRE.FindAllStringSubmatch(r[1], -1)
		out = append(out, map[string]string{"gamma": v[0][1], "clip": v[1][1], "accuracy": v[2][1], "ci95": v[3][1], "snr_db": v[4][1]})
	}
	return out
}

// TestEventStreamSendsOnlyTheRegionsThatChanged follows a sweep's page:
// every region at first, then after a pause only the summary, after a
// cancel the summary and the shards (pending ones are cancelled), never
// the plots or the table, which did not change; and "gone" once the sweep
// is deleted.
func TestEventStreamSendsOnlyTheRegionsThatChanged(t *testing.T) {
	src := newStateSource()
	src.submit(t, "s1", mustSpec(t, smallSpec), 60, 0)
	s, err := New(Config{Addr: "127.0.0.1:0", Source: src, MinInterval: time.Millisecond, Tick: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); s.hub.run(ctx) }()
	defer func() { cancel(); <-hubDone }()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/events?page=%2Fsweeps%2Fs1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ev := &eventReader{sc: bufio.NewScanner(resp.Body)}
	ev.sc.Buffer(nil, 1<<20)
	for _, want := range []string{"summary", "plots", "points", "shards"} {
		if id, _ := ev.next(t); id != want {
			t.Fatalf("first events: got %s, want %s", id, want)
		}
	}
	for _, step := range []struct {
		a     Action
		state string
	}{{ActionPause, "paused"}, {ActionCancel, "cancelled"}} {
		if err := src.Act(t.Context(), LoopbackCaller, step.a, "s1"); err != nil {
			t.Fatal(err)
		}
		id, html := ev.next(t)
		if m := doneRE.FindStringSubmatch(html); id != "summary" || m == nil || m[1] != step.state {
			t.Fatalf("after %s: region %s %q", step.a, id, html)
		}
	}
	if id, html := ev.next(t); id != "shards" || !strings.Contains(html, `data-cat="cancelled" data-n="60"`) {
		t.Fatalf("after the cancel, then: region %s %q", id, html)
	}
	src.apply(t, &cfpb.Command{Cmd: &cfpb.Command_Delete{Delete: &cfpb.DeleteSweep{SweepId: "s1"}}})
	if event, _ := ev.event(t); event != "gone" {
		t.Errorf("after the delete: event %q, want gone", event)
	}
}
