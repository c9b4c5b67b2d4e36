package main

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/clipformer/clipformer/sim/vit"
)

// TestTorchAgreement compares clipformer's ideal float32 forward with the
// PyTorch logits that `scripts/bench_torch.py --check` printed for the same
// checkpoint and the same fixed input. It runs only when BENCH_TORCH_CHECK
// names the file holding that JSON line and BENCH_MODEL names the checkpoint
// (scripts/bench.sh sets both):
//
//	BENCH_TORCH_CHECK=check.json BENCH_MODEL=deit-s.safetensors go test -run TorchAgreement -v ./scripts/mkimages
func TestTorchAgreement(t *testing.T) {
	jsonPath, modelPath := os.Getenv("BENCH_TORCH_CHECK"), os.Getenv("BENCH_MODEL")
	if jsonPath == "" || modelPath == "" {
		t.Skip("set BENCH_TORCH_CHECK and BENCH_MODEL to compare with PyTorch")
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Seed   int64     `json:"seed"`
		Argmax int       `json:"argmax"`
		Logits []float64 `json:"logits"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("%s: %v", jsonPath, err)
	}
	m, err := vit.Load(modelPath, vit.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.Logits) != m.Classes {
		t.Fatalf("%s has %d logits, the model %d classes", jsonPath, len(ref.Logits), m.Classes)
	}
	img := checkInput(m.InChans*m.ImgSize*m.ImgSize, ref.Seed)
	logits := make([]float32, m.Classes)
	m.Forward(&vit.Ideal{}, &vit.Workspace{}, img, []int{0}, logits)

	var maxDiff, maxRef float64
	argmax := 0
	for i, v := range logits {
		maxDiff = max(maxDiff, math.Abs(float64(v)-ref.Logits[i]))
		maxRef = max(maxRef, math.Abs(ref.Logits[i]))
		if v > logits[argmax] {
			argmax = i
		}
	}
	rel := maxDiff / maxRef
	t.Logf("go vs torch: max |logit diff| %.3g, max |torch logit| %.3g, relative %.3g; argmax go %d torch %d",
		maxDiff, maxRef, rel, argmax, ref.Argmax)
	if rel > 1e-3 {
		t.Errorf("logits differ by %.3g relative to the largest (want <= 1e-3)", rel)
	}
	if argmax != ref.Argmax {
		t.Errorf("argmax %d, PyTorch %d", argmax, ref.Argmax)
	}
}

// checkInput is the first image of bench_torch.py's --check batch: element i
// is float32(u/2^32*4 - 2) with u = ((i+1+1000003*seed)*2654435761) mod 2^32.
func checkInput(n int, seed int64) []float32 {
	x := make([]float32, n)
	for i := range x {
		u := uint64((int64(i)+1+1000003*seed)*2654435761) % (1 << 32)
		x[i] = float32(float64(u)/(1<<32)*4 - 2)
	}
	return x
}
