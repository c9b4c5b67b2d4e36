package sim

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/vit"
)

// maxRecorder is the ideal model, recording max |K| and |V| per block and head.
type maxRecorder struct {
	vit.Ideal
	heads int
	k, v  []float32
}

func (r *maxRecorder) Attention(a *vit.Attention) {
	i := a.Block*r.heads + a.Head
	r.k[i] = max(r.k[i], crossbar.MaxAbs(a.KT))
	r.v[i] = max(r.v[i], crossbar.MaxAbs(a.V))
	r.Ideal.Attention(a)
}

// CalibrateKV computes the static K/V scales: the largest |K| and |V| per
// (block, head) that the ideal float model produces on the first n images of
// data. The maximum is order-independent, so the result is identical
// whatever the worker count.
func CalibrateKV(ctx context.Context, m *vit.Model, data dataset.Dataset, n, workers int) (*KVScales, error) {
	if err := dataset.CheckFits(data, m.InChans, m.ImgSize, m.ImgSize); err != nil {
		return nil, err
	}
	n = min(n, data.Len())
	if n <= 0 {
		return nil, fmt.Errorf("%w: calibration set %s has no images", ErrConfig, data.Name())
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const batch = 8
	nh := m.Depth * m.Heads
	out := &KVScales{Blocks: m.Depth, Heads: m.Heads, K: make([]float32, nh), V: make([]float32, nh), Images: n, Source: data.Name()}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	jobs := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := &maxRecorder{heads: m.Heads, k: make([]float32, nh), v: make([]float32, nh)}
			ws := &vit.Workspace{}
			imgLen := m.InChans * m.ImgSize * m.ImgSize
			images := make([]float32, batch*imgLen)
			logits := make([]float32, batch*m.Classes)
			var idx []int
			var err error
			for first := range jobs {
				if err != nil || ctx.Err() != nil {
					continue
				}
				idx = idx[:0]
				for i := first; i < min(first+batch, n); i++ {
					idx = append(idx, i)
				}
				for b, i := range idx {
					img := images[b*imgLen : (b+1)*imgLen]
					if _, err = data.Image(i, img); err != nil {
						break
					}
					m.Normalize(img)
				}
				if err == nil {
					m.Forward(rec, ws, images[:len(idx)*imgLen], idx, logits)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			for i := range out.K {
				out.K[i] = max(out.K[i], rec.k[i])
				out.V[i] = max(out.V[i], rec.v[i])
			}
		}()
	}
	for first := 0; first < n; first += batch {
		jobs <- first
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Description says which images calibrated the scales, for reports: "256 images of
// mnist-train".
func (s *KVScales) Description() string {
	return fmt.Sprintf("%d images of %s", s.Images, s.Source)
}
