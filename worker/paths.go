package worker

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// A sweep spec names the files a worker reads, and a spec comes from
// whoever holds a client certificate. The worker therefore reads only
// inside its data roots, only regular files, only up to a size, and checks
// a model's sha256 before parsing a byte of it. No error here carries a
// file's content.

// DefaultMaxFileBytes bounds one model or IDX file a worker reads, when the
// Executor sets no other bound. The largest checkpoint the simulator runs,
// DeiT-Base in float32, is 350 MB.
const DefaultMaxFileBytes int64 = 4 << 30

// maxDatasetEntries and maxDatasetDepth bound the walk over a data set
// folder (ImageNet's training split has 1.28 million files).
const (
	maxDatasetEntries = 5_000_000
	maxDatasetDepth   = 32
)

// Errors of path resolution, each also marked ErrLocal by the Executor.
var (
	// ErrOutsideRoots refuses a path that leads out of the data roots.
	ErrOutsideRoots = errors.New("worker: outside the data roots")
	// ErrNotRegular refuses a device, a pipe, a socket, or a folder where a
	// file is wanted.
	ErrNotRegular = errors.New("worker: not a regular file")
	// ErrTooLarge refuses a file above the size bound.
	ErrTooLarge = errors.New("worker: file too large")
)

// maxFileBytes is the size bound in force.
func (e *Executor) maxFileBytes() int64 {
	if e.MaxFileBytes > 0 {
		return e.MaxFileBytes
	}
	return DefaultMaxFileBytes
}

// resolve turns a spec's path into the real path it names (relative paths
// from BaseDir, symbolic links followed) and checks that it lies inside a
// data root. With no data roots, any path is accepted (an embedded run of
// the user's own specs).
func (e *Executor) resolve(what, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%s: empty path", what)
	}
	abs, err := filepath.Abs(e.path(p))
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, p, err)
	}
	// Links are followed first, so that the check sees where the path
	// really leads, whatever ".." and links it holds.
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, p, cleanPathError(err))
	}
	if len(e.DataRoots) == 0 {
		return real, nil
	}
	if err := e.contain(real); err != nil {
		if real != p {
			p += " (" + real + ")"
		}
		return "", fmt.Errorf("%s %s: %w", what, p, err)
	}
	return real, nil
}

// contain checks that a resolved path is inside one of the data roots.
func (e *Executor) contain(real string) error {
	var roots []string
	for _, r := range e.DataRoots {
		rr, err := realRoot(r)
		if err != nil {
			return err
		}
		if within(rr, real) {
			return nil
		}
		roots = append(roots, rr)
	}
	return fmt.Errorf("%w %s", ErrOutsideRoots, strings.Join(roots, ", "))
}

// realRoot resolves a configured data root the way paths are resolved.
func realRoot(r string) (string, error) {
	abs, err := filepath.Abs(r)
	if err != nil {
		return "", fmt.Errorf("data root %s: %w", r, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("data root %s: %w", r, cleanPathError(err))
	}
	return real, nil
}

// within reports whether path is root or below it; both are resolved.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// cleanPathError keeps a path error's cause and drops the operation name
// ("lstat /a/b: no such file or directory" becomes "no such file or directory").
func cleanPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// describeMode names what a non-regular file is, for an error.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

// openRegular opens a resolved path for reading and checks, on the open
// file itself, that it is a regular file within the size bound. The open
// does not block on a named pipe, and the check on the descriptor leaves no
// gap for the file to be swapped after it.
func (e *Executor) openRegular(what, real string) (*os.File, int64, error) {
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", what, real, cleanPathError(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s %s: %w", what, real, cleanPathError(err))
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s %s is %s: %w", what, real, describeMode(fi.Mode()), ErrNotRegular)
	}
	if max := e.maxFileBytes(); fi.Size() > max {
		f.Close()
		return nil, 0, fmt.Errorf("%s %s has %d bytes, more than the %d allowed: %w", what, real, fi.Size(), max, ErrTooLarge)
	}
	return f, fi.Size(), nil
}

// modelFile resolves a spec's model path to a regular file inside the data
// roots, within the size bound.
func (e *Executor) modelFile(p string) (string, error) {
	real, err := e.resolve("model", p)
	if err != nil {
		return "", err
	}
	f, _, err := e.openRegular("model", real)
	if err != nil {
		return "", err
	}
	f.Close()
	return real, nil
}

// hashFile is the hex sha256 of a resolved regular file, reading at most
// the size bound even if the file grows meanwhile.
func (e *Executor) hashFile(what, real string) (string, error) {
	f, _, err := e.openRegular(what, real)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	max := e.maxFileBytes()
	n, err := io.Copy(h, io.LimitReader(f, max+1))
	if err != nil {
		return "", fmt.Errorf("%s %s: hash: %w", what, real, cleanPathError(err))
	}
	if n > max {
		return "", fmt.Errorf("%s %s grew past the %d bytes allowed while it was read: %w", what, real, max, ErrTooLarge)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// datasetSpec confines the path inside a dataset.Open spec ("idx:DIR",
// "folder:DIR" or a bare DIR) to the data roots and returns the spec with
// the resolved folder. The named data sets ("mnist", "fashion-mnist") are
// found in folders the worker's operator configured, not the spec's, and
// pass unchanged.
func (e *Executor) datasetSpec(spec string) (string, error) {
	if spec == "" || spec == "mnist" || spec == "fashion-mnist" {
		return spec, nil
	}
	prefix, p := "", spec
	for _, k := range []string{"idx:", "folder:"} {
		if strings.HasPrefix(spec, k) {
			prefix, p = k, strings.TrimPrefix(spec, k)
		}
	}
	real, err := e.resolve("data set", p)
	if err != nil {
		return "", err
	}
	if err := e.checkDatasetTree(real); err != nil {
		return "", err
	}
	return prefix + real, nil
}

// checkDatasetTree walks a data set folder as its readers will, following
// links to folders, and refuses it if any entry leads out of the data
// roots or is neither a folder nor a regular file (a device or a pipe could
// hang the reader; a link could read another user's file). The files at the
// top level, where IDX files live and are read whole, are also held to the
// size bound; image files deeper down are not stat'ed one by one, as that
// would cost a system call per image: the image decoder bounds what it
// decodes.
func (e *Executor) checkDatasetTree(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("data set %s: %w", root, cleanPathError(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("data set %s is %s, not a folder: %w", root, describeMode(fi.Mode()), ErrNotRegular)
	}
	w := treeWalk{e: e, seen: map[string]bool{}}
	return w.dir(root, 0)
}

// treeWalk is the state of checkDatasetTree.
type treeWalk struct {
	e       *Executor
	seen    map[string]bool // resolved folders walked, against link loops
	entries int
}

func (w *treeWalk) dir(dir string, depth int) error {
	if w.seen[dir] {
		return nil
	}
	w.seen[dir] = true
	if depth > maxDatasetDepth {
		return fmt.Errorf("data set folder %s: nested more than %d deep: %w", dir, maxDatasetDepth, ErrNotRegular)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("data set folder %s: %w", dir, cleanPathError(err))
	}
	for _, ent := range ents {
		if w.entries++; w.entries > maxDatasetEntries {
			return fmt.Errorf("data set folder %s: more than %d entries: %w", dir, maxDatasetEntries, ErrTooLarge)
		}
		if err := w.entry(filepath.Join(dir, ent.Name()), ent.Type(), depth); err != nil {
			return err
		}
	}
	return nil
}

func (w *treeWalk) entry(p string, typ fs.FileMode, depth int) error {
	real := p
	if typ&fs.ModeSymlink != 0 {
		var err error
		if real, err = filepath.EvalSymlinks(p); err != nil {
			return fmt.Errorf("data set entry %s: %w", p, cleanPathError(err))
		}
		if len(w.e.DataRoots) > 0 {
			if err := w.e.contain(real); err != nil {
				return fmt.Errorf("data set entry %s links to %s: %w", p, real, err)
			}
		}
		fi, err := os.Stat(real)
		if err != nil {
			return fmt.Errorf("data set entry %s: %w", p, cleanPathError(err))
		}
		typ = fi.Mode().Type()
	}
	switch {
	case typ.IsDir():
		return w.dir(real, depth+1)
	case !typ.IsRegular():
		return fmt.Errorf("data set entry %s is %s: %w", p, describeMode(typ), ErrNotRegular)
	case depth == 0:
		f, _, err := w.e.openRegular("data set file", real)
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}
