package worker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/clipformer/clipformer/internal/simspec"
	"github.com/clipformer/clipformer/internal/version"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/vit"
)

// ErrLocal marks a failure of this worker's own files (a model or data set
// missing or different from what the sweep names), as opposed to a failure
// of the computation.
var ErrLocal = errors.New("worker: local input")

// Executor runs shards on the real simulator. It loads each model and data
// set once, checks the model's sha256 against the spec, and keeps the static
// K/V calibrations and crossbar mappings it has built for reuse. Safe for
// concurrent use.
type Executor struct {
	// Threads is the goroutines one shard's evaluation uses (0: one per CPU).
	Threads int
	// BaseDir resolves relative model and data paths (default: the working
	// directory).
	BaseDir string
	// AllowUnchecked accepts a spec without a model sha256 (embedded runs).
	AllowUnchecked bool
	// DataRoots are the folders model and data paths must lead into, links
	// followed (see paths.go). Empty: any path (embedded runs of the user's
	// own specs); a worker serving a cluster always sets them.
	DataRoots []string
	// MaxFileBytes bounds one model or IDX file (0: DefaultMaxFileBytes).
	MaxFileBytes int64
	// Metrics, if set, records how long each checkpoint took to load.
	Metrics *Metrics

	mu       sync.Mutex
	models   map[string]*modelEntry // by path
	datasets map[string]*dataEntry  // by kind|path|split
	calib    map[string]*calibEntry // by model path|data set spec|split|n
	mapped   []*mappedEntry         // most recent last
}

type modelEntry struct {
	hashOnce sync.Once
	sha256   string
	hashErr  error

	loadOnce sync.Once
	model    *vit.Model
	loadErr  error
}

type dataEntry struct {
	once sync.Once
	data dataset.Dataset
	err  error
}

type calibEntry struct {
	once sync.Once
	kv   *sim.KVScales
	err  error
}

type mappedEntry struct {
	model  *vit.Model
	mapped *sim.Mapped
}

// maxMapped bounds the cached crossbar mappings (each is a copy of the
// model's static weights).
const maxMapped = 4

func (e *Executor) path(p string) string {
	if p == "" || filepath.IsAbs(p) || e.BaseDir == "" {
		return p
	}
	return filepath.Join(e.BaseDir, p)
}

// Model checks and loads (once) a checkpoint: its path must lead into the
// data roots to a regular file within the size bound, and its sha256 must
// match the spec's before a byte of it is parsed.
func (e *Executor) Model(ref *cfpb.ModelRef) (*vit.Model, error) {
	p, err := e.modelFile(ref.GetPath())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLocal, err)
	}
	e.mu.Lock()
	if e.models == nil {
		e.models = map[string]*modelEntry{}
	}
	me, ok := e.models[p]
	if !ok {
		me = &modelEntry{}
		e.models[p] = me
	}
	e.mu.Unlock()
	switch want := ref.GetSha256(); {
	case want == "" && !e.AllowUnchecked:
		return nil, fmt.Errorf("%w: model %s: the sweep names no sha256 to check it against", ErrLocal, p)
	case want != "":
		me.hashOnce.Do(func() { me.sha256, me.hashErr = e.hashFile("model", p) })
		if me.hashErr != nil {
			return nil, fmt.Errorf("%w: %w", ErrLocal, me.hashErr)
		}
		if want != me.sha256 {
			return nil, fmt.Errorf("%w: model %s has sha256 %s, the sweep names %s (a different checkpoint)", ErrLocal, p, me.sha256, want)
		}
	}
	me.loadOnce.Do(func() {
		begin := time.Now()
		if me.model, me.loadErr = vit.Load(p, vit.LoadOptions{}); me.loadErr != nil {
			me.loadErr = fmt.Errorf("%w: model %s: %v", ErrLocal, p, me.loadErr)
			return
		}
		e.Metrics.observeModelLoad(time.Since(begin))
	})
	return me.model, me.loadErr
}

// openSpec is the dataset package's name for a DatasetRef.
func (e *Executor) openSpec(d *cfpb.DatasetRef) string {
	switch d.GetKind() {
	case "idx":
		return "idx:" + e.path(d.Path)
	case "folder":
		return "folder:" + e.path(d.Path)
	}
	if d.GetPath() != "" {
		return "idx:" + e.path(d.Path)
	}
	return d.GetKind()
}

func (e *Executor) dataset(spec, split string) (dataset.Dataset, error) {
	key := spec + "|" + split
	e.mu.Lock()
	if e.datasets == nil {
		e.datasets = map[string]*dataEntry{}
	}
	de, ok := e.datasets[key]
	if !ok {
		de = &dataEntry{}
		e.datasets[key] = de
	}
	e.mu.Unlock()
	de.once.Do(func() {
		real, err := e.datasetSpec(spec)
		if err != nil {
			de.err = fmt.Errorf("%w: %w", ErrLocal, err)
			return
		}
		if de.data, de.err = dataset.Open(real, split); de.err != nil {
			de.err = fmt.Errorf("%w: %v", ErrLocal, de.err)
		}
	})
	return de.data, de.err
}

// Dataset opens (once) the sweep's evaluation images and checks that they
// fit the model: channels, image size and class count, as eval checks.
func (e *Executor) Dataset(d *cfpb.DatasetRef, m *vit.Model) (dataset.Dataset, error) {
	data, err := e.dataset(e.openSpec(d), d.GetSplit())
	if err != nil {
		return nil, err
	}
	if err := dataset.CheckFits(data, m.InChans, m.ImgSize, m.ImgSize); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLocal, err)
	}
	if n := data.NumClasses(); n != m.Classes {
		return nil, fmt.Errorf("%w: the model has %d classes, data set %s has %d: %w", ErrLocal, m.Classes, data.Name(), n, dataset.ErrFit)
	}
	return data, nil
}

// kvScales calibrates (once) the static K/V scales on the images
// dataset.CalibrationSet chooses for the sweep's data set, as eval does. The
// key names the data set by its resolved path and split, so two folders of
// one name never share scales.
func (e *Executor) kvScales(ctx context.Context, spec *cfpb.SweepSpec, m *vit.Model, data dataset.Dataset, n int) (*sim.KVScales, error) {
	dspec := e.openSpec(spec.Dataset)
	key := fmt.Sprintf("%s|%s|%s|%d", e.path(spec.Model.GetPath()), dspec, spec.Dataset.GetSplit(), n)
	e.mu.Lock()
	if e.calib == nil {
		e.calib = map[string]*calibEntry{}
	}
	ce, ok := e.calib[key]
	if !ok {
		ce = &calibEntry{}
		e.calib[key] = ce
	}
	e.mu.Unlock()
	ce.once.Do(func() {
		calib, err := dataset.CalibrationSet(dspec, data, e.dataset)
		if err != nil {
			ce.err = fmt.Errorf("calibration set: %w", err)
			return
		}
		ce.kv, ce.err = sim.CalibrateKV(context.WithoutCancel(ctx), m, calib, n, e.Threads)
	})
	return ce.kv, ce.err
}

// mapping returns a cached crossbar mapping that serves s, or builds one.
func (e *Executor) mapping(m *vit.Model, s *sim.Setting, path sim.Path) (*sim.Mapped, error) {
	e.mu.Lock()
	for i, me := range e.mapped {
		if me.model == m && me.mapped.Serves(m, s, path) {
			e.mapped = append(append(e.mapped[:i:i], e.mapped[i+1:]...), me)
			e.mu.Unlock()
			return me.mapped, nil
		}
	}
	e.mu.Unlock()
	mp, err := sim.MapWeights(m, s, path)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.mapped = append(e.mapped, &mappedEntry{model: m, mapped: mp})
	if len(e.mapped) > maxMapped {
		e.mapped = e.mapped[1:]
	}
	e.mu.Unlock()
	return mp, nil
}

// Run computes one shard. progress, if set, is called with the images done.
func (e *Executor) Run(ctx context.Context, spec *cfpb.SweepSpec, w *cfpb.ShardWork, progress func(done int)) (*cfpb.Summary, error) {
	m, err := e.Model(spec.Model)
	if err != nil {
		return nil, err
	}
	data, err := e.Dataset(spec.Dataset, m)
	if err != nil {
		return nil, err
	}
	if int(w.Start)+int(w.Count) > data.Len() {
		return nil, fmt.Errorf("%w: data set %s has %d images, shard %d needs images %d..%d",
			ErrLocal, data.Name(), data.Len(), w.Shard, w.Start, w.Start+w.Count-1)
	}
	s, err := simspec.Setting(spec, w.Point, int(w.Trial))
	if err != nil {
		return nil, err
	}
	path, _, err := s.Resolve()
	if err != nil {
		return nil, err
	}
	var kv *sim.KVScales
	if s.Profile.KVScale == crossbar.Static {
		if kv, err = e.kvScales(ctx, spec, m, data, s.Profile.CalibrationImages); err != nil {
			return nil, err
		}
	}
	mp, err := e.mapping(m, &s, path)
	if err != nil {
		return nil, err
	}
	r, err := sim.Evaluate(ctx, sim.Request{Model: m, Data: data, Start: int(w.Start), Count: int(w.Count), Setting: s,
		KV: kv, Mapped: mp, Workers: e.Threads, Progress: progress})
	if err != nil {
		return nil, err
	}
	sum := simspec.Summarize(r)
	if kv != nil {
		sum.Calibration = kv.Description() // the results say which images set the K/V scales
	}
	return sum, nil
}

// Result wraps a summary as the shard's result.
func Result(l *cfpb.LeaseRef, worker string, sum *cfpb.Summary, took time.Duration) *cfpb.ShardResult {
	return &cfpb.ShardResult{SweepId: l.GetSweepId(), Shard: l.GetShard(), Attempt: l.GetAttempt(), LeaseId: l.GetLeaseId(),
		Worker: worker, Summary: sum, DurationNs: took.Nanoseconds(), SimVersion: version.String()}
}
