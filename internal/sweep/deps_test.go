package sweep

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/clipformer/clipformer"

// goTool finds the go command, or skips the test: the check needs it.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(p); err != nil {
		t.Skip("skipped: no go command on PATH or in GOROOT to list the coordinator's dependencies")
	}
	return p
}

// TestCoordinatorDoesNotLinkTheSimulator holds the import rule of
// docs/ARCHITECTURE.md: the coordinator plans and merges on plain data and
// never depends on a simulator package, directly or through this one.
func TestCoordinatorDoesNotLinkTheSimulator(t *testing.T) {
	goCmd := goTool(t)
	for _, pkgs := range []string{module + "/coordinator/...", module + "/internal/sweep", module + "/internal/tally"} {
		out, err := exec.Command(goCmd, "list", "-deps", pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkgs, err, out)
		}
		deps := strings.Fields(string(out))
		if pkgs == module+"/coordinator/..." && !slices.Contains(deps, module+"/coordinator/state") {
			t.Fatalf("go list -deps %s does not list coordinator/state; the check sees nothing:\n%s", pkgs, out)
		}
		for _, d := range deps {
			if d == module+"/sim" || strings.HasPrefix(d, module+"/sim/") {
				t.Errorf("%s depends on %s (see `go list -deps %s`)", pkgs, d, pkgs)
			}
		}
	}
}
