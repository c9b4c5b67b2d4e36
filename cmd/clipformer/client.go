package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// clientFlags name the coordinators and the client's credentials.
type clientFlags struct {
	coords string
	wait   time.Duration
	tls    tlsFlags
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.coords, "coordinators", envOr("CLIPFORMER_COORDINATORS", "127.0.0.1:7000"),
		"coordinator API addresses, comma-separated; the first that answers is used [$CLIPFORMER_COORDINATORS]")
	fs.DurationVar(&c.wait, "wait", 30*time.Second, "how long to keep retrying while the cluster has no leader (an election, a coordinator taking up leadership)")
	c.tls.register(fs, "client")
}

// clusterConn is a connection to a coordinator that knows a leader, and how
// long its calls wait out an election.
type clusterConn struct {
	*grpc.ClientConn
	wait time.Duration
}

// call runs f, repeating it with backoff after the cluster's passing
// refusals (and, with coordinator.RetryUnavailable, after any unavailable
// answer) for up to --wait.
func (c *clusterConn) call(ctx context.Context, p coordinator.RetryPolicy, f func(context.Context) error) error {
	return coordinator.Retry(ctx, c.wait, p, f)
}

// dial connects to the first coordinator that answers and knows a leader,
// retrying for up to --wait so that commands work during an election.
func (c *clientFlags) dial(ctx context.Context) (*clusterConn, error) {
	_, clientTLS, err := c.tls.load()
	if err != nil {
		return nil, err
	}
	var conn *grpc.ClientConn
	err = coordinator.Retry(ctx, c.wait, coordinator.RetryUnavailable, func(ctx context.Context) error {
		var errs []string
		for _, addr := range splitList(c.coords) {
			cc, err := dialLeaderKnown(ctx, addr, clientTLS)
			if err == nil {
				conn = cc
				return nil
			}
			errs = append(errs, fmt.Sprintf("%s: %v", addr, err))
		}
		return status.Errorf(codes.Unavailable, "no coordinator answered with a leader: %s", strings.Join(errs, "; "))
	})
	if err != nil {
		return nil, err
	}
	return &clusterConn{ClientConn: conn, wait: c.wait}, nil
}

// dialLeaderKnown connects to addr and checks that it knows a leader.
func dialLeaderKnown(ctx context.Context, addr string, clientTLS *tls.Config) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr, coordinator.DialOptions(clientTLS)...)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := cfpb.NewClusterClient(conn).Status(pctx, &cfpb.ClusterStatusRequest{})
	cancel()
	if err == nil && st.LeaderId == "" {
		err = errors.New("no leader elected yet")
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// clientCommand parses flags, dials and runs f.
func clientCommand(ctx context.Context, name, usage string, args []string, stderr io.Writer, minArgs int,
	extra func(fs *flag.FlagSet), f func(conn *clusterConn, args []string) error) error {
	cf, rest, err := parseClientFlags(name, usage, args, stderr, minArgs, extra)
	if err != nil {
		return err
	}
	return cf.run(ctx, rest, f)
}

// parseClientFlags parses a client command's flags and checks that at
// least minArgs positional arguments follow; it returns them.
func parseClientFlags(name, usage string, args []string, stderr io.Writer, minArgs int,
	extra func(fs *flag.FlagSet)) (*clientFlags, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: clipformer %s\n", usage)
		fs.PrintDefaults()
	}
	var cf clientFlags
	cf.register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() < minArgs {
		fs.Usage()
		return nil, nil, fmt.Errorf("%s: missing argument", name)
	}
	return &cf, fs.Args(), nil
}

// run dials and runs f with the connection.
func (c *clientFlags) run(ctx context.Context, args []string, f func(conn *clusterConn, args []string) error) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(conn, args)
}

func printSweep(w io.Writer, sw *cfpb.Sweep) {
	p := sw.Progress
	state := strings.ToLower(strings.TrimPrefix(sw.State.String(), "SWEEP_STATE_"))
	copies := ""
	if p.Copies > 0 {
		copies = fmt.Sprintf(" copied=%d/%d", p.Copied, p.Copies)
	}
	fmt.Fprintf(w, "%s  %-9s %d/%d  leased=%d failed=%d%s alarms=%d  %q\n", sw.Id, state, p.Done, p.Total, p.Leased, p.Failed, copies, sw.Alarms, sw.Spec.GetName())
	for _, e := range sw.Errors {
		fmt.Fprintf(w, "    error: %s\n", e)
	}
}

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var watch bool
	return clientCommand(ctx, "submit", "submit [flags] SPEC.yaml", args, stderr, 1,
		func(fs *flag.FlagSet) { fs.BoolVar(&watch, "watch", false, "follow progress until done") },
		func(conn *clusterConn, rest []string) error {
			spec, err := loadSpecFile(rest[0])
			if err != nil {
				return err
			}
			if err := checkSubmitPaths(spec, stderr); err != nil {
				return fmt.Errorf("%s: %w", rest[0], err)
			}
			if err := fillChecksum(spec); err != nil {
				return fmt.Errorf("%s: %w", rest[0], err)
			}
			// Repeated only after a refusal: a Submit that may have run is
			// not sent twice.
			var sw *cfpb.Sweep
			err = conn.call(ctx, coordinator.RetryRefusals, func(ctx context.Context) (err error) {
				sw, err = cfpb.NewSweepsClient(conn).Submit(ctx, &cfpb.SubmitRequest{Spec: spec})
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", rest[0], err)
			}
			fmt.Fprintln(stdout, sw.Id)
			fmt.Fprintf(stderr, "submitted %s: %d points, %d shards\n", sw.Id, sw.Points, sw.Shards)
			if watch {
				return watchSweep(ctx, conn, sw.Id, stderr)
			}
			return nil
		})
}

// checkSubmitPaths checks the spec's model and data paths here, before
// anything is submitted. Without a model sha256 the model must be readable
// here (its checksum is computed from it), so a missing path is an error;
// with one, the files may live only on the workers, so it is a warning.
func checkSubmitPaths(spec *cfpb.SweepSpec, stderr io.Writer) error {
	err := sweep.CheckPaths(spec, "")
	if err == nil {
		return nil
	}
	if spec.GetModel().GetSha256() == "" {
		return err
	}
	fmt.Fprintf(stderr, "warning: %v (submitted anyway: the spec gives model.sha256, so the files may be on the workers only)\n", err)
	return nil
}

// watchSweep shows a sweep's progress until it ends, watching again after
// a leader change.
func watchSweep(ctx context.Context, conn *clusterConn, id string, stderr io.Writer) error {
	bar := newSweepBar(stderr)
	defer bar.finish()
	for {
		done := false
		err := conn.call(ctx, coordinator.RetryUnavailable, func(ctx context.Context) (err error) {
			done, err = watchOnce(ctx, conn, id, bar)
			return err
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil || done {
			return err
		}
	}
}

// watchSilence is how long a watch may go without an update.
const watchSilence = 5 * time.Second

// watchOnce follows one Watch stream. It reports done when the sweep
// ended, and no error when the stream broke after showing progress (so
// that the caller's retry budget starts again).
func watchOnce(ctx context.Context, conn *clusterConn, id string, bar *sweepBar) (done bool, err error) {
	// The leader sends the sweep at least once a second: a watch silent
	// for longer than watchSilence is on a frozen or cut-off coordinator.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	silent := time.AfterFunc(watchSilence, cancel)
	defer silent.Stop()
	stream, err := cfpb.NewSweepsClient(conn).Watch(ctx, &cfpb.SweepRef{Id: id})
	if err != nil {
		return false, err
	}
	var last *cfpb.Sweep
	for {
		sw, err := stream.Recv()
		if err != nil && !silent.Stop() {
			err = status.Errorf(codes.Unavailable, "no update for %v; watching again", watchSilence)
		}
		silent.Reset(watchSilence)
		switch {
		case errors.Is(err, io.EOF) && last != nil && terminalState(last.State):
			return true, nil
		case errors.Is(err, io.EOF):
			return false, status.Error(codes.Unavailable, "the watch ended before the sweep did")
		case err != nil && last != nil && status.Code(err) == codes.Unavailable:
			return false, nil
		case err != nil:
			return false, err
		}
		last = sw
		bar.update(sw)
	}
}

func terminalState(s cfpb.SweepState) bool {
	return s == cfpb.SweepState_SWEEP_STATE_DONE || s == cfpb.SweepState_SWEEP_STATE_CANCELLED
}

func runWatch(ctx context.Context, args []string, stderr io.Writer) error {
	return clientCommand(ctx, "watch", "watch [flags] SWEEP_ID", args, stderr, 1, nil, func(conn *clusterConn, rest []string) error {
		return watchSweep(ctx, conn, rest[0], stderr)
	})
}

// sweepJSON writes a sweep as one line of JSON for scripts: protobuf field
// names (id, state, owner, attempts, duplicate_results, recomputed_shards,
// progress ...), every field present even when zero.
var sweepJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

func runList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	return clientCommand(ctx, "list", "list [flags]", args, stderr, 0, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "one JSON object per line per sweep (protobuf field names), for scripts")
	}, func(conn *clusterConn, _ []string) error {
		var r *cfpb.ListResponse
		err := conn.call(ctx, coordinator.RetryUnavailable, func(ctx context.Context) (err error) {
			r, err = cfpb.NewSweepsClient(conn).List(ctx, &cfpb.ListRequest{})
			return err
		})
		if err != nil {
			return err
		}
		for _, sw := range r.Sweeps {
			if !asJSON {
				printSweep(stdout, sw)
				continue
			}
			b, err := sweepJSON.Marshal(sw)
			if err != nil {
				return fmt.Errorf("list: sweep %s as JSON: %w", sw.Id, err)
			}
			fmt.Fprintf(stdout, "%s\n", b)
		}
		return nil
	})
}

// runDelete deletes a finished sweep with its results.
func runDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return clientCommand(ctx, "delete", "delete [flags] SWEEP_ID", args, stderr, 1, nil, func(conn *clusterConn, rest []string) error {
		// Repeated only after a refusal: a repeat of a delete that ran
		// would answer NotFound.
		err := conn.call(ctx, coordinator.RetryRefusals, func(ctx context.Context) error {
			_, err := cfpb.NewSweepsClient(conn).Delete(ctx, &cfpb.SweepRef{Id: rest[0]})
			return err
		})
		if err != nil {
			return fmt.Errorf("delete %s: %w", rest[0], err)
		}
		fmt.Fprintf(stdout, "deleted %s\n", rest[0])
		return nil
	})
}

func runSetState(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	return clientCommand(ctx, verb, verb+" [flags] SWEEP_ID", args, stderr, 1, nil, func(conn *clusterConn, rest []string) error {
		c := cfpb.NewSweepsClient(conn)
		ref := &cfpb.SweepRef{Id: rest[0]}
		set := map[string]func(context.Context, *cfpb.SweepRef, ...grpc.CallOption) (*cfpb.Sweep, error){
			"cancel": c.Cancel, "pause": c.Pause, "resume": c.Resume}[verb]
		// Setting a sweep to a given state twice does no harm.
		var sw *cfpb.Sweep
		err := conn.call(ctx, coordinator.RetryUnavailable, func(ctx context.Context) (err error) {
			sw, err = set(ctx, ref)
			return err
		})
		if err != nil {
			return err
		}
		printSweep(stdout, sw)
		return nil
	})
}

// fetchRows reads a sweep and its results, reading again from the start
// when a leader change breaks the stream.
func fetchRows(ctx context.Context, conn *clusterConn, id string) (*cfpb.Sweep, []report.Row, error) {
	var sw *cfpb.Sweep
	var results []*cfpb.PointResult
	err := conn.call(ctx, coordinator.RetryUnavailable, func(ctx context.Context) (err error) {
		sw, results, err = fetchResults(ctx, cfpb.NewSweepsClient(conn), id)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	rows := report.Rows(sw.Id, sw.Spec, results)
	addHardware(rows, sw.Spec, results)
	return sw, rows, nil
}

// fetchResults reads a sweep and every point's results in one go.
func fetchResults(ctx context.Context, c cfpb.SweepsClient, id string) (*cfpb.Sweep, []*cfpb.PointResult, error) {
	sw, err := c.Get(ctx, &cfpb.SweepRef{Id: id})
	if err != nil {
		return nil, nil, err
	}
	stream, err := c.Results(ctx, &cfpb.SweepRef{Id: id})
	if err != nil {
		return nil, nil, err
	}
	var results []*cfpb.PointResult
	for {
		p, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return sw, results, nil
		}
		if err != nil {
			return nil, nil, err
		}
		results = append(results, p)
	}
}

func runResults(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var format, out, compare, from string
	var level float64
	var race raceFlags
	cf, rest, err := parseClientFlags("results", "results [flags] SWEEP_ID\n"+
		"       clipformer results --compare SETTING [--from RUN_DIR | SWEEP_ID]\n       clipformer results --race --from RUN_DIR",
		args, stderr, 0, func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "table", "table, best (the best ClipFormer setting per gamma), csv, jsonl or parquet")
			fs.StringVar(&out, "out", "", "write to this file instead of standard output")
			fs.StringVar(&compare, "compare", "", "print each setting's paired gain over this baseline setting (off, ALPHA,BETA) in its group")
			fs.StringVar(&from, "from", "", "with --compare or --race: a `clipformer run` output folder (results.csv and shards.csv) instead of a sweep id")
			fs.Float64Var(&level, "level", 0.95, "with --compare: the confidence level of the intervals; with --race: the race's")
			race.register(fs)
		})
	if err != nil {
		return err
	}
	switch {
	case from != "" && compare == "" && !race.on:
		return errors.New("results: --from needs --compare or --race")
	case from != "" && len(rest) > 0:
		return fmt.Errorf("results: give --from or a sweep id, not both (got %q)", rest[0])
	case race.on && from == "":
		return errors.New("results: --race replays a race on a run's per-shard results: give --from RUN_DIR")
	case race.on:
		return raceRun(stdout, from, level, race)
	case from != "":
		return compareRun(stdout, from, compare, level)
	case len(rest) != 1:
		return errors.New("results: want exactly one sweep id")
	}
	return cf.run(ctx, rest, func(conn *clusterConn, rest []string) error {
		if compare != "" {
			return compareSweep(ctx, stdout, stderr, conn, rest[0], compare, level)
		}
		sw, rows, err := fetchRows(ctx, conn, rest[0])
		if err != nil {
			return err
		}
		w := stdout
		if out != "" {
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		} else if format == "parquet" {
			return errors.New("results: parquet is binary; give --out FILE")
		}
		switch format {
		case "table":
			if err := report.WriteTable(w, rows); err != nil {
				return err
			}
			writeCopiesNote(w, sw)
			return nil
		case "best":
			return report.WriteBest(w, report.BestPerGamma(rows))
		}
		return report.WriteFormat(w, format, rows)
	})
}

func runPlot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var out, formats string
	return clientCommand(ctx, "plot", "plot [flags] SWEEP_ID", args, stderr, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "file prefix (default: plots/SWEEP_ID); writes PREFIX-accuracy.EXT and PREFIX-snr.EXT, or for a grid of more than 8 ClipFormer settings PREFIX-best, -beta-accuracy, -beta-snr, -blocksnr and -gain")
		fs.StringVar(&formats, "format", "png,svg", "png, svg or both")
	}, func(conn *clusterConn, rest []string) error {
		sw, rows, err := fetchRows(ctx, conn, rest[0])
		if err != nil {
			return err
		}
		if out == "" {
			out = filepath.Join("plots", sw.Id)
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		files, err := report.PlotSweep(rows, report.FigureContext(sw.Spec, rows), out, splitList(formats))
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, strings.Join(files, "\n"))
		return nil
	})
}

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: clipformer cluster status|add ID RAFT_ADDR GRPC_ADDR|remove ID [flags]")
		return flag.ErrHelp
	}
	sub := args[0]
	switch sub {
	case "status":
		return runStatus(ctx, args[1:], stdout, stderr)
	case "add":
		return clientCommand(ctx, "cluster add", "cluster add [flags] ID RAFT_ADDR GRPC_ADDR", args[1:], stderr, 3, nil,
			func(conn *clusterConn, rest []string) error {
				req := &cfpb.AddCoordinatorRequest{Id: rest[0], RaftAddress: rest[1], GrpcAddress: rest[2]}
				var st *cfpb.ClusterStatus
				err := conn.call(ctx, coordinator.RetryRefusals, func(ctx context.Context) (err error) {
					st, err = cfpb.NewClusterClient(conn).AddCoordinator(ctx, req)
					return err
				})
				if err != nil {
					return err
				}
				printStatus(stdout, st)
				return nil
			})
	case "remove":
		return clientCommand(ctx, "cluster remove", "cluster remove [flags] ID", args[1:], stderr, 1, nil,
			func(conn *clusterConn, rest []string) error {
				var st *cfpb.ClusterStatus
				err := conn.call(ctx, coordinator.RetryRefusals, func(ctx context.Context) (err error) {
					st, err = cfpb.NewClusterClient(conn).RemoveCoordinator(ctx, &cfpb.RemoveCoordinatorRequest{Id: rest[0]})
					return err
				})
				if err != nil {
					return err
				}
				printStatus(stdout, st)
				return nil
			})
	}
	return fmt.Errorf("cluster: unknown sub-command %q (want status, add or remove)", sub)
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return clientCommand(ctx, "status", "status [flags]", args, stderr, 0, nil, func(conn *clusterConn, _ []string) error {
		var st *cfpb.ClusterStatus
		err := conn.call(ctx, coordinator.RetryUnavailable, func(ctx context.Context) (err error) {
			st, err = cfpb.NewClusterClient(conn).Status(ctx, &cfpb.ClusterStatusRequest{})
			return err
		})
		if err != nil {
			return err
		}
		printStatus(stdout, st)
		return nil
	})
}

func printStatus(w io.Writer, st *cfpb.ClusterStatus) {
	fmt.Fprintf(w, "leader %s (%s), term %d, commit index %d; answered by %s\n", st.LeaderId, st.LeaderAddress, st.Term, st.CommitIndex, st.AnsweredBy)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "coordinator\traft\tapi\tsuffrage\t")
	for _, c := range st.Coordinators {
		id := c.Id
		if c.Leader {
			id += " *"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", id, c.RaftAddress, c.GrpcAddress, c.Suffrage)
	}
	tw.Flush()
	if len(st.Workers) > 0 {
		fmt.Fprintln(tw, "worker\tconnected\tslots\tleases\tshards done\tversion\t")
		for _, wk := range st.Workers {
			conn := "no"
			if wk.Connected {
				conn = "yes"
				if wk.Draining {
					conn = "draining"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t\n", wk.Id, conn, wk.Slots, wk.Leases, wk.ShardsDone, wk.Version)
		}
		tw.Flush()
	}
}
