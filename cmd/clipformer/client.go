package main

import (
	"context"
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

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// clientFlags name the coordinators and the client's credentials.
type clientFlags struct {
	coords string
	tls    tlsFlags
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.coords, "coordinators", envOr("CLIPFORMER_COORDINATORS", "127.0.0.1:7000"),
		"coordinator API addresses, comma-separated; the first that answers is used [$CLIPFORMER_COORDINATORS]")
	c.tls.register(fs, "client")
}

// dial connects to the first coordinator that answers and knows a leader,
// retrying for a while so that commands work during an election.
func (c *clientFlags) dial(ctx context.Context) (*grpc.ClientConn, error) {
	_, clientTLS, err := c.tls.load()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var errs []string
		for _, addr := range splitList(c.coords) {
			conn, err := grpc.NewClient(addr, coordinator.DialOptions(clientTLS)...)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", addr, err))
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := cfpb.NewClusterClient(conn).Status(pctx, &cfpb.ClusterStatusRequest{})
			cancel()
			if err == nil && st.LeaderId != "" {
				return conn, nil
			}
			conn.Close()
			if err == nil {
				err = errors.New("no leader elected yet")
			}
			errs = append(errs, fmt.Sprintf("%s: %v", addr, err))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("no coordinator answered with a leader: %s", strings.Join(errs, "; "))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// clientCommand parses flags, dials and runs f.
func clientCommand(ctx context.Context, name, usage string, args []string, stderr io.Writer, minArgs int,
	extra func(fs *flag.FlagSet), f func(conn *grpc.ClientConn, args []string) error) error {
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
		return err
	}
	if fs.NArg() < minArgs {
		fs.Usage()
		return fmt.Errorf("%s: missing argument", name)
	}
	conn, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(conn, fs.Args())
}

func printSweep(w io.Writer, sw *cfpb.Sweep) {
	p := sw.Progress
	state := strings.ToLower(strings.TrimPrefix(sw.State.String(), "SWEEP_STATE_"))
	fmt.Fprintf(w, "%s  %-9s %d/%d  leased=%d failed=%d alarms=%d  %q\n", sw.Id, state, p.Done, p.Total, p.Leased, p.Failed, sw.Alarms, sw.Spec.GetName())
	for _, e := range sw.Errors {
		fmt.Fprintf(w, "    error: %s\n", e)
	}
}

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var watch bool
	return clientCommand(ctx, "submit", "submit [flags] SPEC.yaml", args, stderr, 1,
		func(fs *flag.FlagSet) { fs.BoolVar(&watch, "watch", false, "follow progress until done") },
		func(conn *grpc.ClientConn, rest []string) error {
			spec, err := loadSpecFile(rest[0])
			if err != nil {
				return err
			}
			if err := fillChecksum(spec); err != nil {
				return fmt.Errorf("%s: %w", rest[0], err)
			}
			sw, err := cfpb.NewSweepsClient(conn).Submit(ctx, &cfpb.SubmitRequest{Spec: spec})
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

func watchSweep(ctx context.Context, conn *grpc.ClientConn, id string, stderr io.Writer) error {
	bar := newSweepBar(stderr)
	defer bar.finish()
	for {
		stream, err := cfpb.NewSweepsClient(conn).Watch(ctx, &cfpb.SweepRef{Id: id})
		if err != nil {
			return err
		}
		var last *cfpb.Sweep
		for {
			sw, err := stream.Recv()
			if err != nil {
				if errors.Is(err, io.EOF) && last != nil && terminalState(last.State) {
					return nil
				}
				if ctx.Err() != nil {
					return nil
				}
				break // leader change: watch again
			}
			last = sw
			bar.update(sw)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func terminalState(s cfpb.SweepState) bool {
	return s == cfpb.SweepState_SWEEP_STATE_DONE || s == cfpb.SweepState_SWEEP_STATE_CANCELLED
}

func runWatch(ctx context.Context, args []string, stderr io.Writer) error {
	return clientCommand(ctx, "watch", "watch [flags] SWEEP_ID", args, stderr, 1, nil, func(conn *grpc.ClientConn, rest []string) error {
		return watchSweep(ctx, conn, rest[0], stderr)
	})
}

func runList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return clientCommand(ctx, "list", "list [flags]", args, stderr, 0, nil, func(conn *grpc.ClientConn, _ []string) error {
		r, err := cfpb.NewSweepsClient(conn).List(ctx, &cfpb.ListRequest{})
		if err != nil {
			return err
		}
		for _, sw := range r.Sweeps {
			printSweep(stdout, sw)
		}
		return nil
	})
}

func runSetState(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	return clientCommand(ctx, verb, verb+" [flags] SWEEP_ID", args, stderr, 1, nil, func(conn *grpc.ClientConn, rest []string) error {
		c := cfpb.NewSweepsClient(conn)
		ref := &cfpb.SweepRef{Id: rest[0]}
		var sw *cfpb.Sweep
		var err error
		switch verb {
		case "cancel":
			sw, err = c.Cancel(ctx, ref)
		case "pause":
			sw, err = c.Pause(ctx, ref)
		case "resume":
			sw, err = c.Resume(ctx, ref)
		}
		if err != nil {
			return err
		}
		printSweep(stdout, sw)
		return nil
	})
}

// fetchRows reads a sweep and its results.
func fetchRows(ctx context.Context, conn *grpc.ClientConn, id string) (*cfpb.Sweep, []report.Row, error) {
	c := cfpb.NewSweepsClient(conn)
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
			break
		}
		if err != nil {
			return nil, nil, err
		}
		results = append(results, p)
	}
	rows := report.Rows(sw.Id, sw.Spec, results)
	addHardware(rows, sw.Spec, results)
	return sw, rows, nil
}

func runResults(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var format, out string
	return clientCommand(ctx, "results", "results [flags] SWEEP_ID", args, stderr, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "table", "table, best (the best ClipFormer setting per gamma), csv, jsonl or parquet")
		fs.StringVar(&out, "out", "", "write to this file instead of standard output")
	}, func(conn *grpc.ClientConn, rest []string) error {
		_, rows, err := fetchRows(ctx, conn, rest[0])
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
			return report.WriteTable(w, rows)
		case "best":
			return report.WriteBest(w, report.BestPerGamma(rows))
		}
		return report.WriteFormat(w, format, rows)
	})
}

func runPlot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var out, formats string
	return clientCommand(ctx, "plot", "plot [flags] SWEEP_ID", args, stderr, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "file prefix (default: plots/SWEEP_ID); writes PREFIX-accuracy.EXT and PREFIX-snr.EXT")
		fs.StringVar(&formats, "format", "png,svg", "png, svg or both")
	}, func(conn *grpc.ClientConn, rest []string) error {
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
		title := sw.Spec.GetName()
		if title == "" {
			title = "sweep " + sw.Id
		}
		files, err := report.Plot(rows, title, out, splitList(formats))
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
			func(conn *grpc.ClientConn, rest []string) error {
				st, err := cfpb.NewClusterClient(conn).AddCoordinator(ctx, &cfpb.AddCoordinatorRequest{Id: rest[0], RaftAddress: rest[1], GrpcAddress: rest[2]})
				if err != nil {
					return err
				}
				printStatus(stdout, st)
				return nil
			})
	case "remove":
		return clientCommand(ctx, "cluster remove", "cluster remove [flags] ID", args[1:], stderr, 1, nil,
			func(conn *grpc.ClientConn, rest []string) error {
				st, err := cfpb.NewClusterClient(conn).RemoveCoordinator(ctx, &cfpb.RemoveCoordinatorRequest{Id: rest[0]})
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
	return clientCommand(ctx, "status", "status [flags]", args, stderr, 0, nil, func(conn *grpc.ClientConn, _ []string) error {
		st, err := cfpb.NewClusterClient(conn).Status(ctx, &cfpb.ClusterStatusRequest{})
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
