//go:build !amd64

package linalg

import "os"

var intKernels = mustIntKernels(os.Getenv(KernelsEnv))

// mustIntKernels checks a KernelsEnv value; every value gives the pure-Go
// kernels on this architecture.
func mustIntKernels(env string) intKernelSet {
	if _, err := parseKernels(env); err != nil {
		panic(err)
	}
	return genericIntKernels
}

// IntKernelsFor names the integer kernels that KernelsEnv set to v selects:
// pure Go on this architecture.
func IntKernelsFor(v string) (string, error) {
	_, err := parseKernels(v)
	return genericIntKernels.name, err
}

// archIntKernels: no assembly families on this architecture.
func archIntKernels(name string) (intKernelSet, bool) { return intKernelSet{}, false }
