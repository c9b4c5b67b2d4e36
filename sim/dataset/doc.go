// Package dataset reads the image classification data the simulator evaluates on.
//
// Every data set implements Dataset: a fixed number of images of one shape, each with an
// integer label. Image fills a caller's buffer in CHW order with pixel values in [0, 1]
// (the pixel byte divided by 255, as torchvision's ToTensor does); normalisation by a mean
// and standard deviation is the model's business, not the data set's. Implementations
// are safe for concurrent calls to Image.
//
// Three kinds of source are read:
//
//   - IDX files (MNIST, Fashion-MNIST), gzipped or not: an idx3-ubyte image file and an
//     idx1-ubyte label file, held in memory once opened (see OpenIDX and OpenIDXDir).
//   - An ImageNet-style folder with one sub-folder per class, read the way torchvision's
//     ImageFolder reads it and decoded lazily with DeiT's evaluation transform: resize the
//     shorter side to 256 with Pillow's bicubic filter, centre crop 224 (see OpenFolder).
//     The resampling reproduces Pillow's fixed-point arithmetic exactly, and JPEG colour
//     is converted as libjpeg converts it (fancy chroma upsampling), so pixels match
//     torchvision's to within the inverse DCT's rounding, a level or two.
//   - Named data sets, "mnist" and "fashion-mnist", found in well-known places (see
//     Locate and Open).
//
// Bad input is reported with an error that names the file and the record, wrapping one of
// the package's sentinel errors so that callers can test it with errors.Is.
package dataset
