// Command clipformer simulates Vision Transformers on noisy memristive
// crossbars with the ClipFormer K/V transform.
//
// Run "clipformer help" for the sub-commands: sweeps on one machine (run),
// a cluster (coordinator, worker, submit, watch, results, plot, cluster,
// certs) and single points (eval).
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
	"github.com/clipformer/clipformer/sim/linalg"
)

const usage = `clipformer: Vision Transformers on noisy memristive crossbars, with ClipFormer.

Usage:
  clipformer run SPEC.yaml             run a sweep on this machine: results table, results.csv, plots
  clipformer eval [flags]              evaluate one point: accuracy, SNR, hardware counts
  clipformer report RESULTS_DIR        reproduction tables (Markdown) and figures from result CSVs

 cluster:
  clipformer coordinator [flags]       run a raft coordinator
  clipformer worker [flags]            run a worker (SIGTERM drains it)
  clipformer submit SPEC.yaml          submit a sweep; prints its id
  clipformer watch ID                  live progress with throughput and ETA
  clipformer list [--json]             the sweeps and their progress (--json: one object per line)
  clipformer cancel|pause|resume ID    change a sweep's state (its owner or an admin)
  clipformer delete ID                 delete a finished sweep and its results (its owner or an admin)
  clipformer results ID                results as a table, --format csv|jsonl|parquet
  clipformer results --compare off ID  each setting's paired gain over a baseline (--from RUN_DIR: over image blocks)
  clipformer results --race --from DIR replay a paired race per gamma on a run's per-shard results
  clipformer plot ID                   accuracy and <SNR> versus gamma (PNG, SVG)
  clipformer status                    coordinators, leader and workers
  clipformer cluster status|add|remove administer the coordinators
  clipformer certs init|issue          make a development CA and certificates
  clipformer ui token                  a dashboard login token for a client or admin certificate
  clipformer health --addr ADDR        exit 0 when the coordinator serves (--live: when it answers)

 models and devices:
  clipformer model synth [flags]       write a checkpoint of a preset architecture with random weights
  clipformer model inspect FILE        print a checkpoint's architecture, parameters and tensors
  clipformer profile [--profile FILE]  print the device profile in effect, as YAML
  clipformer hw [flags]                crossbars, ADC conversions, area and energy of a setting vs untransformed
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

// notifyInterrupt delivers SIGINT and SIGTERM to c.
func notifyInterrupt(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	if err := checkKernels(linalg.KernelsErr(), stderr); err != nil {
		return err
	}
	switch args[0] {
	case "eval":
		return runEval(ctx, args[1:], stdout, stderr)
	case "run":
		return runRun(ctx, args[1:], stdout, stderr)
	case "coordinator":
		return runCoordinator(ctx, args[1:], stderr)
	case "worker":
		return runWorker(ctx, args[1:], stderr)
	case "submit":
		return runSubmit(ctx, args[1:], stdout, stderr)
	case "watch":
		return runWatch(ctx, args[1:], stderr)
	case "list":
		return runList(ctx, args[1:], stdout, stderr)
	case "cancel", "pause", "resume":
		return runSetState(ctx, args[0], args[1:], stdout, stderr)
	case "delete":
		return runDelete(ctx, args[1:], stdout, stderr)
	case "results":
		return runResults(ctx, args[1:], stdout, stderr)
	case "plot":
		return runPlot(ctx, args[1:], stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], stdout, stderr)
	case "cluster":
		return runCluster(ctx, args[1:], stdout, stderr)
	case "certs":
		return runCerts(args[1:], stdout, stderr)
	case "ui":
		return runUI(args[1:], stdout, stderr)
	case "health":
		return runHealth(args[1:], stdout, stderr)
	case "model":
		return runModel(args[1:], stdout, stderr)
	case "report":
		return runReport(args[1:], stdout, stderr)
	case "hw":
		return runHW(args[1:], stdout, stderr)
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
