package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipformer/clipformer/sim/dataset"
)

// TestFolder writes a small folder in both formats and reads it back with
// clipformer's image-folder loader; the same flags give the same bytes.
func TestFolder(t *testing.T) {
	for _, format := range []string{"png", "jpg"} {
		dir := filepath.Join(t.TempDir(), "imgs")
		args := []string{"-out", dir, "-n", "5", "-classes", "2", "-size", "40x30", "-seed", "7", "-format", format}
		if err := run(args, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		f, err := dataset.OpenFolder(dir, dataset.FolderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if f.Len() != 5 || f.NumClasses() != 2 {
			t.Fatalf("%s: %d images in %d classes, want 5 in 2", format, f.Len(), f.NumClasses())
		}
		want := filepath.Join(dir, "class_001", "img_0001."+format) // image 3
		if f.Path(4) != want {
			t.Errorf("%s: image 4 is %s, want %s", format, f.Path(4), want)
		}
		dst := make([]float32, 3*224*224)
		if _, err := f.Image(0, dst); err != nil {
			t.Fatal(err)
		}
		again := filepath.Join(t.TempDir(), "again")
		args[1] = again
		if err := run(args, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(want)
		b, _ := os.ReadFile(filepath.Join(again, "class_001", "img_0001."+format))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: a second run wrote different bytes", format)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-out", "x", "-size", "3"},
		{"-out", "x", "-format", "gif"},
		{"-out", "x", "-n", "0"},
		{"-out", "x", "extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
