package paired

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// fused matches arm64's fused multiply-add instructions in a compiler
// listing: FMADDD, FMSUBD, FNMADDD, FNMSUBD and their single forms.
var fused = regexp.MustCompile(`\sFN?M(ADD|SUB)[DS]\s`)

// Go fuses x*y + z into one instruction on arm64 (never on amd64) unless an
// explicit conversion forbids it, and the fused form rounds once instead
// of twice: replicas on the two platforms would then disagree. The package
// compiled for arm64 must hold no fused multiply-add.
func TestNoFusedMultiplyAddOnArm64(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goCmd); err != nil {
			t.Skip("skipped: no go command to compile the package for arm64")
		}
	}
	cmd := exec.Command(goCmd, "build", "-gcflags=-S", ".")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("GOARCH=arm64 go build -gcflags=-S: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "FMULD") {
		t.Fatalf("the arm64 listing holds no floating-point multiply: the check sees nothing\n%.2000s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if fused.MatchString(line) {
			t.Errorf("a fused multiply-add on arm64 (wrap the product in float64()): %s", strings.TrimSpace(line))
		}
	}
}
