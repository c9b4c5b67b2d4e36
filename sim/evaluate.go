package sim

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/vit"
)

// Request is one evaluation: a model, a range of dataset images and a
// setting.
type Request struct {
	Model   *vit.Model
	Data    dataset.Dataset
	Start   int // first image index
	Count   int // images to evaluate; <= 0 means to the end of the dataset
	Setting Setting
	// KV holds the static K/V scales; required when the profile's kv_scale is
	// static (see CalibrateKV).
	KV *KVScales
	// Mapped may hold the static weights already programmed (see
	// MapWeights); it is used only if it Serves this model and setting, and
	// the weights are mapped afresh otherwise.
	Mapped *Mapped
	// Workers is the number of goroutines (0: one per CPU).
	Workers int
	// Batch is the number of images per forward pass (0: 8).
	Batch int
	// Predictions asks for every image's label, prediction and logits.
	Predictions bool
	// Progress, if set, is called from worker goroutines with the number of
	// images finished so far.
	Progress func(done int)
}

// Prediction is one image's outcome.
type Prediction struct {
	Index  int
	Label  int
	Pred   int
	Logits []float32
}

// Result is an evaluation's mergeable outcome: counts and exact SNR sums.
type Result struct {
	Path     Path
	PathNote string // why the path was chosen, when the profile forced it
	Images   int
	Correct  int
	// Signal and Noise hold, per block, sum ||Y_ref||^2 and
	// sum ||Y_xbar - Y_ref||^2 of the attention core over heads, tokens and
	// images. Empty for the ideal model.
	Signal, Noise []ExactSum
	Predictions   []Prediction // in image order, when asked for
}

// Merge adds another shard's counts and sums.
func (r *Result) Merge(o *Result) {
	r.Images += o.Images
	r.Correct += o.Correct
	if len(r.Signal) < len(o.Signal) {
		r.Signal = append(r.Signal, make([]ExactSum, len(o.Signal)-len(r.Signal))...)
		r.Noise = append(r.Noise, make([]ExactSum, len(o.Noise)-len(r.Noise))...)
	}
	for i := range o.Signal {
		r.Signal[i].Merge(o.Signal[i])
		r.Noise[i].Merge(o.Noise[i])
	}
	r.Predictions = append(r.Predictions, o.Predictions...)
}

// Accuracy is the top-1 accuracy in percent.
func (r *Result) Accuracy() float64 {
	if r.Images == 0 {
		return 0
	}
	return 100 * float64(r.Correct) / float64(r.Images)
}

// Evaluate runs the request. Each image's result depends only on the model,
// the setting and the image's index, never on Start, Count, Workers or Batch.
func Evaluate(ctx context.Context, req Request) (*Result, error) {
	m := req.Model
	path, note, err := req.Setting.Resolve()
	if err != nil {
		return nil, err
	}
	if err := dataset.CheckFits(req.Data, m.InChans, m.ImgSize, m.ImgSize); err != nil {
		return nil, err
	}
	if err := req.Setting.Prune.Validate(m.Depth); err != nil {
		return nil, err
	}
	total := req.Data.Len()
	if req.Start < 0 || req.Start > total {
		return nil, fmt.Errorf("%w: start image %d is outside dataset %s (%d images)", ErrConfig, req.Start, req.Data.Name(), total)
	}
	count := req.Count
	if count <= 0 || req.Start+count > total {
		count = total - req.Start
	}
	s := &req.Setting
	mp := req.Mapped
	if !s.Ideal {
		if s.Profile.KVScale == crossbar.Static {
			if err := req.KV.check(m); err != nil {
				return nil, err
			}
		}
		if !mp.Serves(m, s, path) {
			if mp, err = MapWeights(m, s, path); err != nil {
				return nil, err
			}
		}
	}
	workers := req.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	batch := req.Batch
	if batch <= 0 {
		batch = 8
	}

	res := &Result{Path: path, PathNote: note, Images: count}
	if !s.Ideal {
		res.Signal = make([]ExactSum, m.Depth)
		res.Noise = make([]ExactSum, m.Depth)
	}
	preds := make([]Prediction, count)
	snr := make([][]blockSNR, count)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		done     atomic.Int64
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ops vit.Ops
			var xo *xbarOps
			if s.Ideal {
				ops = &vit.Ideal{}
			} else {
				xo = newXbarOps(s, mp, req.KV)
				ops = xo
			}
			ws := &vit.Workspace{}
			if s.Prune.On() {
				ws.Prune = &s.Prune
			}
			imgLen := m.InChans * m.ImgSize * m.ImgSize
			images := make([]float32, batch*imgLen)
			logits := make([]float32, batch*m.Classes)
			idx := make([]int, 0, batch)
			labels := make([]int, batch)
			for first := range jobs {
				idx = idx[:0]
				for i := first; i < min(first+batch, req.Start+count); i++ {
					idx = append(idx, i)
				}
				for b, i := range idx {
					img := images[b*imgLen : (b+1)*imgLen]
					label, err := req.Data.Image(i, img)
					if err != nil {
						fail(err)
						return
					}
					if label < 0 || label >= m.Classes {
						fail(fmt.Errorf("%w: dataset %s image %d has label %d, the model has %d classes", ErrConfig, req.Data.Name(), i, label, m.Classes))
						return
					}
					labels[b] = label
					m.Normalize(img)
				}
				if xo != nil {
					xo.begin(idx, m.Depth)
				}
				m.Forward(ops, ws, images[:len(idx)*imgLen], idx, logits[:len(idx)*m.Classes])
				for b, i := range idx {
					lg := logits[b*m.Classes : (b+1)*m.Classes]
					p := Prediction{Index: i, Label: labels[b], Pred: argmax(lg)}
					if req.Predictions {
						p.Logits = append([]float32(nil), lg...)
					}
					preds[i-req.Start] = p
					if xo != nil {
						snr[i-req.Start] = append([]blockSNR(nil), xo.snr[b]...)
					}
				}
				if n := done.Add(int64(len(idx))); req.Progress != nil {
					req.Progress(int(n))
				}
			}
		}()
	}
feed:
	for first := req.Start; first < req.Start+count; first += batch {
		select {
		case jobs <- first:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, p := range preds {
		if p.Pred == p.Label {
			res.Correct++
		}
		for b, v := range snr[i] {
			res.Signal[b].Add(v.signal)
			res.Noise[b].Add(v.noise)
		}
	}
	if req.Predictions {
		res.Predictions = preds
	}
	return res, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
