// Package sim evaluates a Vision Transformer whose matrices sit on noisy
// memristive crossbars: the static linears programmed once per trial, K^T and
// V written for every image, layer and head with write noise, read noise on
// every product, and the ClipFormer transform on K and V. It measures top-1
// accuracy, the per-block SNR of the attention core and hardware counts.
//
// The numerics live in the sub-packages: vit (the model and its forward
// pass), crossbar (mapping, noise, fast and reference paths), keyrand (keyed
// random streams), linalg (kernels), safetensors and dataset (readers). sim
// imports only the standard library (dataset adds GoMNIST, to find its MNIST
// files); see DESIGN.md for its invariants.
package sim
