package worker

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/simtest"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/sim/dataset"
)

// The worker refuses, as eval does, a data set that does not fit the model:
// other channels or image size, or another class count. Its accuracy would
// mean nothing.
func TestExecutorRefusesADataSetThatDoesNotFitTheModel(t *testing.T) {
	model := simtest.RGBModel(t, 2, 3) // 3 x 224 x 224, 2 classes
	three := simtest.ImageFolder(t, filepath.Join(t.TempDir(), "three"), 3, 1, 0)
	two := simtest.ImageFolder(t, filepath.Join(t.TempDir(), "two"), 2, 1, 0)
	for _, c := range []struct{ data, want string }{
		{"{kind: folder, path: " + three + ", limit: 3}", "the model has 2 classes, data set three-test has 3"},
		{"{kind: mnist, limit: 4}", "images are 1x28x28 (channels x height x width), the model takes 3x224x224"},
		{"{kind: folder, path: " + two + ", limit: 2}", ""},
	} {
		spec, err := sweep.Parse("t.yaml", []byte("model: {path: "+model+"}\ndataset: "+c.data+"\ngrid: {gamma: [2]}\nimages_per_shard: 2\n"))
		if err != nil {
			t.Fatal(err)
		}
		e := &Executor{Threads: 1, AllowUnchecked: true}
		m, err := e.Model(spec.Model)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Dataset(spec.Dataset, m)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.data, err)
			}
			continue
		}
		if !errors.Is(err, dataset.ErrFit) || !errors.Is(err, ErrLocal) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrFit and ErrLocal saying %q", c.data, err, c.want)
		}
	}
}
