//go:build !amd64

package linalg

// intKernels: the pure-Go family, the only one on this architecture.
var intKernels = genericIntKernels

// IntKernelsFor names the integer kernels that KernelsEnv set to v selects:
// pure Go on this architecture, with the problem in v if any.
func IntKernelsFor(v string) (string, error) {
	_, err := chooseLevel(v, bestLevel())
	return genericIntKernels.name, err
}

// archIntKernels: no assembly families on this architecture.
func archIntKernels(name string) (intKernelSet, bool) { return intKernelSet{}, false }
