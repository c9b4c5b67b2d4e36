package dataset

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSliceClampsTheRange(t *testing.T) {
	images, labels := synthIDX(10, 2, 2)
	d, err := ParseIDX("set", images, labels)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		start, n         int
		wantStart, wantN int
	}{
		{0, 10, 0, 10},
		{2, 3, 2, 3},
		{-4, 3, 0, 3},
		{8, 5, 8, 2},
		{7, -1, 7, 3},
		{12, 1, 10, 0},
		{0, 0, 0, 0},
	}
	for _, tt := range tests {
		s := Slice(d, tt.start, tt.n)
		if s.Len() != tt.wantN {
			t.Errorf("Slice(%d, %d): Len = %d, want %d", tt.start, tt.n, s.Len(), tt.wantN)
		}
		wantName := fmt.Sprintf("set[%d:%d]", tt.wantStart, tt.wantStart+tt.wantN)
		if s.Name() != wantName {
			t.Errorf("Slice(%d, %d): Name = %q, want %q", tt.start, tt.n, s.Name(), wantName)
		}
		dst := make([]float32, 4)
		for i := range s.Len() {
			label, err := s.Image(i, dst)
			if err != nil || label != (tt.wantStart+i)%10 {
				t.Errorf("Slice(%d, %d).Image(%d) = %d, %v, want label %d", tt.start, tt.n, i, label, err, (tt.wantStart+i)%10)
			}
		}
		for _, i := range []int{-1, s.Len()} {
			if _, err := s.Image(i, dst); !errors.Is(err, ErrIndex) || !strings.Contains(err.Error(), wantName) {
				t.Errorf("Slice(%d, %d).Image(%d): got %v, want ErrIndex naming %s", tt.start, tt.n, i, err, wantName)
			}
		}
		if c, h, w := s.Shape(); c != 1 || h != 2 || w != 2 || s.NumClasses() != 10 {
			t.Errorf("Slice keeps shape and classes: got %d,%d,%d and %d", c, h, w, s.NumClasses())
		}
	}
	if s := Slice(Slice(d, 2, 6), 1, 2); s.Name() != "set[2:8][1:3]" || s.Len() != 2 {
		t.Errorf("nested slice: %q with %d images", s.Name(), s.Len())
	}
}

func TestCheckFits(t *testing.T) {
	images, labels := synthIDX(3, 28, 28)
	d, err := ParseIDX("mnist-test", images, labels)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFits(d, 1, 28, 28); err != nil {
		t.Errorf("fitting model: %v", err)
	}
	for _, c := range []struct {
		c, h, w int
		words   []string
	}{
		{3, 28, 28, []string{"1 channel(s)", "takes 3"}},
		{1, 32, 32, []string{"28x28", "32x32"}},
		{3, 224, 224, []string{"1x28x28", "3x224x224"}},
	} {
		err := CheckFits(d, c.c, c.h, c.w)
		if !errors.Is(err, ErrFit) || !strings.Contains(err.Error(), "mnist-test") {
			t.Errorf("model %dx%dx%d: got %v, want ErrFit naming the data set", c.c, c.h, c.w, err)
			continue
		}
		for _, w := range c.words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
}

func TestOpenSpecs(t *testing.T) {
	idxDir := t.TempDir()
	writeIDXDir(t, idxDir, "test", 6, 3, 3, true)
	imgDir := t.TempDir()
	png1 := encode(t, uniform(8, 8, color.NRGBA{9, 9, 9, 255}), "png")
	writeFile(t, imgDir, "cat/1.png", png1)
	writeFile(t, imgDir, "dog/1.png", png1)
	splitDir := t.TempDir()
	writeFile(t, splitDir, "train/cat/1.png", png1)
	writeFile(t, splitDir, "val/cat/1.png", png1)
	writeFile(t, splitDir, "val/dog/1.png", png1)
	writeFile(t, splitDir, "val/dog/2.png", png1)

	tests := []struct {
		spec, split string
		wantIDX     bool
		wantLen     int
	}{
		{"idx:" + idxDir, "test", true, 6},
		{idxDir, "test", true, 6},
		{"folder:" + imgDir, "test", false, 2},
		{imgDir, "train", false, 2},
		{splitDir, "train", false, 1},
		{splitDir, "test", false, 3},
		{"folder:" + splitDir, "test", false, 3},
	}
	for _, tt := range tests {
		d, err := Open(tt.spec, tt.split)
		if err != nil {
			t.Errorf("Open(%q, %q): %v", tt.spec, tt.split, err)
			continue
		}
		if _, isIDX := d.(*IDX); isIDX != tt.wantIDX || d.Len() != tt.wantLen {
			t.Errorf("Open(%q, %q) = %T with %d images, want IDX %v with %d", tt.spec, tt.split, d, d.Len(), tt.wantIDX, tt.wantLen)
		}
	}

	bad := []struct {
		spec, split string
		want        error
	}{
		{"", "test", ErrSpec},
		{"cifar10", "test", os.ErrNotExist},
		{filepath.Join(idxDir, "t10k-images-idx3-ubyte.gz"), "test", ErrSpec},
		{"idx:" + idxDir, "train", ErrNotFound},
		{"idx:" + idxDir, "dev", ErrSpec},
		{"folder:" + imgDir, "dev", ErrSpec},
		{"folder:" + filepath.Join(imgDir, "missing"), "test", os.ErrNotExist},
		{"folder:" + t.TempDir(), "test", ErrEmpty},
		{"mnist", "dev", ErrSpec},
	}
	for _, tt := range bad {
		_, err := Open(tt.spec, tt.split)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), `"`+tt.spec+`"`) {
			t.Errorf("Open(%q, %q): got %v, want %v naming the spec", tt.spec, tt.split, err, tt.want)
		}
	}
	// A split-organised folder without the split asked for.
	onlyTrain := t.TempDir()
	writeFile(t, onlyTrain, "train/cat/1.png", png1)
	if _, err := Open(onlyTrain, "test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("split folder without test: got %v, want ErrNotFound", err)
	}
}
