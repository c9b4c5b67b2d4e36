package sweep

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// ErrInput marks a spec whose model or data set is not where it says.
var ErrInput = errors.New("sweep: input not found")

// CheckPaths checks that every file a spec names is there: the model
// checkpoint is a regular file and the dataset's folder (for kinds idx and
// folder, or a named set given a path) is a folder. Relative paths are
// resolved against baseDir (empty: the working directory), as a worker
// resolves them. Device-axis values are numbers and names, never files, so
// one model and one data set serve every grid point.
//
// Call it before anything is submitted or run, so that a typo fails at once
// instead of in every shard.
func CheckPaths(spec *cfpb.SweepSpec, baseDir string) error {
	var problems []string
	if p := spec.GetModel().GetPath(); p != "" {
		if err := checkPath(resolve(baseDir, p), false); err != nil {
			problems = append(problems, "model.path: "+err.Error())
		}
	}
	if d := spec.GetDataset(); d.GetPath() != "" {
		if err := checkPath(resolve(baseDir, d.Path), true); err != nil {
			problems = append(problems, "dataset.path: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInput, strings.Join(problems, "; "))
	}
	return nil
}

func resolve(baseDir, p string) string {
	if baseDir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(baseDir, p)
}

// checkPath says what is wrong with p as a regular file (or a folder).
func checkPath(p string, folder bool) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", p)
	case err != nil:
		return fmt.Errorf("%s: %v", p, errors.Unwrap(err))
	case folder && !fi.IsDir():
		return fmt.Errorf("%s is not a folder", p)
	case !folder && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", p)
	}
	return nil
}
