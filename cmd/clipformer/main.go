// Command clipformer simulates Vision Transformers on noisy memristive
// crossbars with the ClipFormer K/V transform.
//
// Usage:
//
//	clipformer eval [flags]             evaluate one point (accuracy, SNR, hardware)
//	clipformer model synth [flags]      write a checkpoint with seeded random weights
//	clipformer model inspect FILE       print a checkpoint's architecture and tensors
//	clipformer profile [--profile FILE] print the device profile in effect
//	clipformer version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/clipformer/clipformer/internal/version"
)

const usage = `clipformer: Vision Transformers on noisy memristive crossbars, with ClipFormer.

Usage:
  clipformer eval [flags]              evaluate one point: accuracy, SNR, hardware counts
  clipformer model synth [flags]       write a checkpoint of a preset architecture with random weights
  clipformer model inspect FILE        print a checkpoint's architecture, parameters and tensors
  clipformer profile [--profile FILE]  print the device profile in effect, as YAML
  clipformer version                   print the version

Run "clipformer COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "clipformer:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "eval":
		return runEval(ctx, args[1:], stdout, stderr)
	case "model":
		return runModel(args[1:], stdout, stderr)
	case "profile":
		return runProfile(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "clipformer", version.String())
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
