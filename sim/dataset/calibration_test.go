package dataset

import (
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// pixelFolder writes root/CLASS/NAME.png images of one colour each, given per class as
// a count, and returns root.
func pixelFolder(t *testing.T, root string, perClass map[string]int, shade uint8) string {
	t.Helper()
	for class, n := range perClass {
		for i := 0; i < n; i++ {
			c := color.NRGBA{shade, uint8(10 * i), class[0], 255}
			writeFile(t, root, class+"/"+string(rune('a'+i))+".png", encode(t, uniform(4, 4, c), "png"))
		}
	}
	return root
}

// A folder without a train split calibrates on the evaluated images, class by class in
// turn: the first n images cover every class before any class gives a second.
func TestCalibrationSetStratifiesAFolderWithoutATrainSplit(t *testing.T) {
	root := pixelFolder(t, t.TempDir(), map[string]int{"a": 4, "b": 1, "c": 2}, 0)
	eval, err := Open("folder:"+root, "test")
	if err != nil {
		t.Fatal(err)
	}
	calib, err := CalibrationSet("folder:"+root, eval, func(spec, split string) (Dataset, error) {
		t.Fatalf("opened %s %s, want the evaluated folder itself", spec, split)
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f := eval.(*Folder)
	var got []string
	for i := 0; i < calib.Len(); i++ {
		got = append(got, filepath.Base(filepath.Dir(f.Path(calib.(*interleaved).order[i])))+"/"+
			filepath.Base(f.Path(calib.(*interleaved).order[i])))
	}
	want := []string{"a/a.png", "b/a.png", "c/a.png", "a/b.png", "c/b.png", "a/c.png", "a/d.png"}
	if !slices.Equal(got, want) {
		t.Fatalf("calibration order %v, want %v", got, want)
	}
	// Image i of the stratified set is the folder's image order[i], label included.
	dst := make([]float32, 3*224*224)
	for i, wantLabel := range []int{0, 1, 2, 0} {
		if l, err := calib.Image(i, dst); err != nil || l != wantLabel {
			t.Fatalf("image %d: label %d, %v; want %d", i, l, err, wantLabel)
		}
	}
	if !strings.Contains(calib.Name(), "class-stratified") || !strings.Contains(calib.Name(), "3 classes") {
		t.Errorf("Name %q does not say the set is class-stratified", calib.Name())
	}
}

// A folder with train/ and val/ calibrates on train/, whichever split is evaluated;
// IDX data calibrates on its train split.
func TestCalibrationSetTakesTheTrainSplit(t *testing.T) {
	root := t.TempDir()
	pixelFolder(t, filepath.Join(root, "train"), map[string]int{"a": 2, "b": 2}, 1)
	pixelFolder(t, filepath.Join(root, "val"), map[string]int{"a": 1, "b": 1}, 2)
	for _, spec := range []string{"folder:" + root, root} {
		eval, err := Open(spec, "test")
		if err != nil {
			t.Fatal(err)
		}
		calib, err := CalibrationSet(spec, eval, Open)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := calib.(*Folder)
		if !ok || f.Len() != 4 || f.Name() != filepath.Base(root)+"-train" || !strings.HasPrefix(f.Path(0), filepath.Join(root, "train")) {
			t.Fatalf("%s: calibration set %s (%T), want the 4 images of train/", spec, calib.Name(), calib)
		}
	}
	var asked []string
	idx := &IDX{name: "digits-test", n: 1, rows: 1, cols: 1, pixels: []byte{0}, labels: []byte{0}, classes: 1}
	if _, err := CalibrationSet("idx:digits", idx, func(spec, split string) (Dataset, error) {
		asked = append(asked, spec+" "+split)
		return idx, nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []string{"idx:digits train"}) {
		t.Fatalf("IDX data opened %v, want its train split", asked)
	}
}

// The fingerprint tells the images apart, not the names: two folders of the same name
// with other files differ, the same files agree, and a file rewritten in place changes it.
func TestFingerprintIdentifiesTheImagesNotTheName(t *testing.T) {
	a := pixelFolder(t, filepath.Join(t.TempDir(), "imgs"), map[string]int{"x": 2, "y": 2}, 10)
	b := pixelFolder(t, filepath.Join(t.TempDir(), "imgs"), map[string]int{"x": 2, "y": 2}, 20)
	fp := func(dir string, n int) string {
		t.Helper()
		d, err := Open("folder:"+dir, "test")
		if err != nil {
			t.Fatal(err)
		}
		s, err := Fingerprint(ClassInterleaved(d.(*Folder)), n)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fa := fp(a, 4)
	if fb := fp(b, 4); fb == fa {
		t.Fatal("two folders named imgs with different images share a fingerprint")
	}
	if again := fp(a, 4); again != fa {
		t.Fatal("the same folder gave two fingerprints")
	}
	if fp(a, 3) == fa {
		t.Fatal("3 and 4 images share a fingerprint")
	}
	p := filepath.Join(a, "y", "b.png")
	if err := os.WriteFile(p, encode(t, uniform(5, 4, color.NRGBA{1, 2, 3, 255}), "png"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(p, later, later)
	if fp(a, 4) == fa {
		t.Fatal("rewriting an image did not change the fingerprint")
	}

	d1 := &IDX{name: "d-train", n: 2, rows: 1, cols: 2, pixels: []byte{1, 2, 3, 4}, labels: []byte{0, 1}, classes: 2}
	d2 := &IDX{name: "d-train", n: 2, rows: 1, cols: 2, pixels: []byte{1, 2, 3, 5}, labels: []byte{0, 1}, classes: 2}
	f1, _ := Fingerprint(d1, 2)
	f2, _ := Fingerprint(d2, 2)
	if f1 == f2 {
		t.Fatal("IDX sets of the same name with other pixels share a fingerprint")
	}
}
