package worker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clipformer/clipformer/internal/filehash"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// secret is content that must never appear in an error.
const secret = "TOP-SECRET-CONTENT-0123456789"

// confined is an Executor whose only data root is a fresh folder holding
// models/, and a folder beside it, outside the root, holding secret files.
func confined(t *testing.T) (e *Executor, root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "models"), filepath.Join(root, "data"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(outside, "secret.safetensors"), filepath.Join(root, "models", "junk.safetensors")} {
		if err := os.WriteFile(f, []byte(secret), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &Executor{Threads: 1, BaseDir: root, DataRoots: []string{root}}, root, outside
}

// inTime runs f and fails the test if it does not return in time: a read
// of a pipe or of /dev/zero would never return.
func inTime(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still reading after 10 s", what)
		return nil
	}
}

func checkRefused(t *testing.T, what string, err, want error, mention string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: accepted", what)
	case !errors.Is(err, want) || !errors.Is(err, ErrLocal):
		t.Errorf("%s: %v, want %v (and ErrLocal)", what, err, want)
	case !strings.Contains(err.Error(), mention):
		t.Errorf("%s: %q does not name %q", what, err, mention)
	case strings.Contains(err.Error(), secret):
		t.Errorf("%s: the error echoes the file's content: %q", what, err)
	}
}

func TestModelPathsStayInsideTheDataRoots(t *testing.T) {
	e, root, outside := confined(t)
	sha := strings.Repeat("0", 64)
	model := func(p string) error {
		_, err := e.Model(&cfpb.ModelRef{Path: p, Sha256: sha})
		return err
	}
	if err := os.Symlink(filepath.Join(outside, "secret.safetensors"), filepath.Join(root, "models", "link.safetensors")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "models", "dirlink")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ what, path string }{
		{"an absolute path outside", filepath.Join(outside, "secret.safetensors")},
		{"a system file", "/etc/hostname"},
		{"..", "../outside/secret.safetensors"},
		{".. inside a path", "models/../../outside/secret.safetensors"},
		{"a link escaping", "models/link.safetensors"},
		{"a link to a folder escaping", "models/dirlink/secret.safetensors"},
	} {
		checkRefused(t, tc.what, inTime(t, tc.what, func() error { return model(tc.path) }), ErrOutsideRoots, tc.path)
	}
}

func TestModelFilesMustBeRegularAndBounded(t *testing.T) {
	e, root, _ := confined(t)
	fifo := filepath.Join(root, "models", "fifo.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	sha := strings.Repeat("0", 64)
	model := func(p string) error {
		_, err := e.Model(&cfpb.ModelRef{Path: p, Sha256: sha})
		return err
	}
	checkRefused(t, "a named pipe", inTime(t, "a named pipe", func() error { return model("models/fifo.safetensors") }), ErrNotRegular, "named pipe")
	checkRefused(t, "a folder", model("models"), ErrNotRegular, "folder")

	// /dev/zero, as a worker run with --base / and the whole disk as its
	// root would meet it: endless, so refused before any read.
	dev := &Executor{Threads: 1, BaseDir: "/", DataRoots: []string{"/"}}
	err := inTime(t, "/dev/zero", func() error { _, err := dev.Model(&cfpb.ModelRef{Path: "/dev/zero", Sha256: sha}); return err })
	checkRefused(t, "/dev/zero", err, ErrNotRegular, "/dev/zero")

	e.MaxFileBytes = int64(len(secret)) - 1
	checkRefused(t, "a file over the bound", model("models/junk.safetensors"), ErrTooLarge, "more than")
}

func TestModelSha256IsComparedBeforeParsing(t *testing.T) {
	e, _, _ := confined(t)
	// junk.safetensors is not a checkpoint: a parser would fail on it and
	// might quote it. The checksum must refuse it first.
	wrong := strings.Repeat("0", 64)
	_, err := e.Model(&cfpb.ModelRef{Path: "models/junk.safetensors", Sha256: wrong})
	if err == nil || !strings.Contains(err.Error(), "the sweep names "+wrong) || strings.Contains(err.Error(), secret) {
		t.Fatalf("a checksum mismatch: %v, want the sha256 refusal before any parse", err)
	}
	// With the right checksum the parser runs, and its error does not
	// quote the content either.
	sum, _ := filehash.SHA256(filepath.Join(e.BaseDir, "models", "junk.safetensors"))
	_, err = e.Model(&cfpb.ModelRef{Path: "models/junk.safetensors", Sha256: sum})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("parsing junk: %v", err)
	}
}

func TestTheBundledModelLoadsFromItsDataRoot(t *testing.T) {
	sum, err := filehash.SHA256(bundled)
	if err != nil {
		t.Fatal(err)
	}
	e := &Executor{Threads: 1, DataRoots: []string{"../models"}}
	if _, err := e.Model(&cfpb.ModelRef{Path: bundled, Sha256: sum}); err != nil {
		t.Fatalf("the bundled model inside its root: %v", err)
	}
}

func TestDatasetFoldersStayInsideTheRootsAndHoldOnlyFilesAndFolders(t *testing.T) {
	e, root, outside := confined(t)
	open := func(kind, path string) error {
		_, err := e.dataset(e.openSpec(&cfpb.DatasetRef{Kind: kind, Path: path}), "test")
		return err
	}
	// A folder outside, named directly, through .., or through a link.
	if err := os.Symlink(outside, filepath.Join(root, "data", "elsewhere")); err != nil {
		t.Fatal(err)
	}
	checkRefused(t, "an idx folder outside", open("idx", outside), ErrOutsideRoots, outside)
	checkRefused(t, "a folder through ..", open("folder", "../outside"), ErrOutsideRoots, outside)
	checkRefused(t, "a folder through a link", open("idx", "data/elsewhere"), ErrOutsideRoots, "data/elsewhere")
	checkRefused(t, "a bare kind naming a path", open("/etc", ""), ErrOutsideRoots, "/etc")

	// A link inside a data set folder that leads out.
	leaky := filepath.Join(root, "data", "leaky")
	os.MkdirAll(filepath.Join(leaky, "cat"), 0o755)
	if err := os.Symlink(filepath.Join(outside, "secret.safetensors"), filepath.Join(leaky, "cat", "1.png")); err != nil {
		t.Fatal(err)
	}
	checkRefused(t, "a link inside the folder", open("folder", "data/leaky"), ErrOutsideRoots, "1.png")

	// A named pipe where an IDX file is read.
	piped := filepath.Join(root, "data", "piped")
	os.MkdirAll(piped, 0o755)
	if err := syscall.Mkfifo(filepath.Join(piped, "t10k-images-idx3-ubyte"), 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	err := inTime(t, "a pipe in an IDX folder", func() error { return open("idx", "data/piped") })
	checkRefused(t, "a pipe in an IDX folder", err, ErrNotRegular, "named pipe")

	// An IDX file over the bound.
	big := filepath.Join(root, "data", "big")
	os.MkdirAll(big, 0o755)
	os.WriteFile(filepath.Join(big, "t10k-images-idx3-ubyte"), []byte(secret), 0o644)
	e.MaxFileBytes = 8
	checkRefused(t, "an IDX file over the bound", open("idx", "data/big"), ErrTooLarge, "t10k-images-idx3-ubyte")
}

func TestWithoutDataRootsEmbeddedRunsReadAnyPath(t *testing.T) {
	e := &Executor{Threads: 1, AllowUnchecked: true}
	abs, _ := filepath.Abs(bundled)
	if _, err := e.Model(&cfpb.ModelRef{Path: abs}); err != nil {
		t.Fatalf("an embedded run naming an absolute model path: %v", err)
	}
	// The regular-file rule holds everywhere.
	_, err := e.Model(&cfpb.ModelRef{Path: "/dev/null"})
	checkRefused(t, "/dev/null without roots", err, ErrNotRegular, "/dev/null")
}
