package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FolderOptions sets an image folder's evaluation transform. Zero fields take the
// defaults, DeiT's: resize the shorter side to 256, centre crop 224.
type FolderOptions struct {
	// Resize is the length of the shorter side after resizing (torchvision Resize(int)).
	// Default 256.
	Resize int
	// Crop is the side of the square centre crop taken after resizing
	// (torchvision CenterCrop); a crop larger than the resized image is zero-padded, as
	// torchvision pads it. Default 224.
	Crop int
	// MaxPixels is the largest image, in pixels, that Image decodes. Default
	// DefaultMaxPixels.
	MaxPixels int
}

// DefaultMaxPixels is Pillow's decompression-bomb limit, MAX_IMAGE_PIXELS.
const DefaultMaxPixels = 1024 * 1024 * 1024 / 4 / 3

// maxSide bounds FolderOptions.Resize and Crop.
const maxSide = 1 << 14

// imageExtensions are torchvision's IMG_EXTENSIONS, matched case-insensitively.
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}

// Folder is an ImageNet-style data set: one sub-folder per class under a root, each
// holding image files, read as torchvision's ImageFolder reads it. Images are decoded
// lazily by Image, converted to RGB (grey replicated to three channels), resized so the
// shorter side is Resize with Pillow's bicubic filter, and centre-cropped to Crop x Crop.
type Folder struct {
	name    string
	root    string
	opts    FolderOptions
	classes []string
	files   []string // paths under root
	labels  []int
}

// OpenFolder lists the image folder at root. Classes are the sub-folders of root, sorted
// byte-wise by name and numbered from 0 in that order (torchvision's find_classes).
// Each class's images are the files under its folder, sub-folders included, whose names
// end in one of torchvision's image extensions (.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff
// .webp, in any case), in torchvision's make_dataset order: folders sorted by path, files
// sorted by name within each. Only JPEG, PNG and GIF content decodes; other files give an
// error naming the file when Image reads them. A root with no class folders, or a class
// folder without images, is an error naming it.
func OpenFolder(root string, opts FolderOptions) (*Folder, error) {
	if opts.Resize == 0 {
		opts.Resize = 256
	}
	if opts.Crop == 0 {
		opts.Crop = 224
	}
	if opts.MaxPixels == 0 {
		opts.MaxPixels = DefaultMaxPixels
	}
	if opts.Resize < 0 || opts.Resize > maxSide || opts.Crop < 0 || opts.Crop > maxSide || opts.MaxPixels < 0 {
		return nil, fmt.Errorf("image folder %s: options %+v out of range (sizes in [1, %d]): %w", root, opts, maxSide, ErrSpec)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("image folder: %w", err)
	}
	f := &Folder{name: filepath.Base(filepath.Clean(root)), root: root, opts: opts}
	for _, e := range ents {
		if isDir(filepath.Join(root, e.Name()), e) {
			f.classes = append(f.classes, e.Name())
		}
	}
	sort.Strings(f.classes) // ReadDir sorts already; keep the byte-wise order explicit
	if len(f.classes) == 0 {
		return nil, fmt.Errorf("image folder %s: no class sub-folders: %w", root, ErrEmpty)
	}
	for label, class := range f.classes {
		files, err := listImages(filepath.Join(root, class))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("image folder %s: class folder %s has no files ending in %s: %w",
				root, filepath.Join(root, class), strings.Join(imageExtensions, " "), ErrEmpty)
		}
		for _, p := range files {
			f.files = append(f.files, p)
			f.labels = append(f.labels, label)
		}
	}
	return f, nil
}

// isDir reports whether a directory entry is a folder, following symbolic links as
// Python's DirEntry.is_dir does.
func isDir(path string, e os.DirEntry) bool {
	if e.Type()&os.ModeSymlink != 0 {
		fi, err := os.Stat(path)
		return err == nil && fi.IsDir()
	}
	return e.IsDir()
}

// maxDepth bounds the folder nesting listImages follows.
const maxDepth = 32

// listImages returns the image files under dir in torchvision's order: sorted(os.walk(dir,
// followlinks=True)) sorts the walk's folders by path, and the files of each folder are
// sorted by name. Links to folders are followed, except back into a folder being walked.
func listImages(dir string) ([]string, error) {
	type folder struct {
		path  string
		files []string
	}
	var folders []folder
	var walk func(path string, stack []os.FileInfo) error
	walk = func(path string, stack []os.FileInfo) error {
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("image folder: %w", err)
		}
		for _, up := range stack {
			if os.SameFile(up, fi) {
				return nil // a link loop
			}
		}
		if len(stack) >= maxDepth {
			return fmt.Errorf("image folder %s: nested more than %d deep: %w", path, maxDepth, ErrSpec)
		}
		stack = append(stack, fi)
		ents, err := os.ReadDir(path)
		if err != nil {
			return fmt.Errorf("image folder: %w", err)
		}
		fo := folder{path: path}
		var subs []string
		for _, e := range ents {
			p := filepath.Join(path, e.Name())
			if isDir(p, e) {
				subs = append(subs, p)
				continue
			}
			if hasImageExtension(e.Name()) {
				fo.files = append(fo.files, p)
			}
		}
		folders = append(folders, fo)
		for _, s := range subs {
			if err := walk(s, stack); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(dir, nil); err != nil {
		return nil, err
	}
	sort.Slice(folders, func(i, j int) bool { return folders[i].path < folders[j].path })
	var files []string
	for _, fo := range folders {
		sort.Strings(fo.files)
		files = append(files, fo.files...)
	}
	return files, nil
}

// hasImageExtension reports whether a file name ends in one of torchvision's image
// extensions, ignoring case.
func hasImageExtension(name string) bool {
	lower := strings.ToLower(name)
	for _, ext := range imageExtensions {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// Name implements Dataset.
func (f *Folder) Name() string { return f.name }

// Len implements Dataset.
func (f *Folder) Len() int { return len(f.files) }

// Shape implements Dataset: three channels of Crop x Crop pixels.
func (f *Folder) Shape() (c, h, w int) { return 3, f.opts.Crop, f.opts.Crop }

// NumClasses implements Dataset: the number of class folders.
func (f *Folder) NumClasses() int { return len(f.classes) }

// Classes returns the class folder names in label order.
func (f *Folder) Classes() []string { return append([]string(nil), f.classes...) }

// Path returns the file of image i. It panics if i is out of range.
func (f *Folder) Path(i int) string { return f.files[i] }

// Image implements Dataset: it reads and decodes image i and applies the transform.
// Errors name the file.
func (f *Folder) Image(i int, dst []float32) (int, error) {
	if err := checkImageArgs(f, i, dst); err != nil {
		return 0, err
	}
	data, err := os.ReadFile(f.files[i])
	if err != nil {
		return 0, fmt.Errorf("%s: image %d: %w", f.name, i, err)
	}
	if err := decodeTransform(f.files[i], data, f.opts, dst); err != nil {
		return 0, fmt.Errorf("%s: image %d: %w", f.name, i, err)
	}
	return f.labels[i], nil
}
