package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// common is what every page's layout shows.
type common struct {
	Title  string
	Page   string // the path of the page, for its event stream
	CSRF   string
	Caller Caller
	Open   bool
}

// sweepRow is one sweep as the sweeps table and a sweep's summary show it.
type sweepRow struct {
	ID, Name, Owner, State         string
	Priority                       int32
	Done, Total, Leased, Failed    int64
	Pending, Retried               int64
	Percent                        float64
	ImagesPerSecond                float64
	ETA                            string
	Alarms, Duplicates             int64
	Submitted                      string
	Errors                         []string
	CanPause, CanResume, CanCancel bool
	CanDelete                      bool
}

func stateWord(st cfpb.SweepState) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "SWEEP_STATE_"))
}

// newSweepRow describes sw for caller: the actions offered are those its
// state allows and caller's role may ask for (the owner check is the
// coordinator's).
func newSweepRow(sw *cfpb.Sweep, caller Caller) sweepRow {
	p := sw.GetProgress()
	r := sweepRow{ID: sw.Id, Name: sw.GetSpec().GetName(), Owner: sw.Owner, State: stateWord(sw.State), Priority: sw.GetSpec().GetPriority(),
		Done: p.GetDone(), Total: p.GetTotal(), Leased: p.GetLeased(), Failed: p.GetFailed(), Pending: p.GetPending(),
		Alarms: sw.Alarms, Duplicates: sw.DuplicateResults, Errors: sw.Errors, ETA: "-",
		Submitted: time.Unix(0, sw.SubmittedNs).UTC().Format("2006-01-02 15:04:05")}
	if r.Owner == "" {
		r.Owner = "-"
	}
	// Every lease beyond a shard's first is a retry.
	r.Retried = max(sw.Attempts-(p.GetDone()+p.GetLeased()+p.GetFailed()), 0)
	if r.Total > 0 {
		r.Percent = math.Floor(1000*float64(r.Done)/float64(r.Total)) / 10
	}
	r.ImagesPerSecond = sw.ShardsPerSecond * float64(sw.GetSpec().GetImagesPerShard())
	if sw.EtaSeconds >= 0 && sw.State == cfpb.SweepState_SWEEP_STATE_RUNNING {
		r.ETA = (time.Duration(sw.EtaSeconds) * time.Second).String()
	}
	may := func(a Action) bool { return allowed(caller.Role, actionRoles[a]) }
	switch sw.State {
	case cfpb.SweepState_SWEEP_STATE_RUNNING:
		r.CanPause, r.CanCancel = may(ActionPause), may(ActionCancel)
	case cfpb.SweepState_SWEEP_STATE_PAUSED:
		r.CanResume, r.CanCancel = may(ActionResume), may(ActionCancel)
	default:
		r.CanDelete = may(ActionDelete)
	}
	return r
}

// pointRow is one grid point of the per-point table; the V fields carry
// the numbers exactly as results.csv writes them.
type pointRow struct {
	report.Row
	Others                string
	Acc, CI, SNR          string
	AccV, CIV, SNRV, GamV string
}

func newPointRows(rows []report.Row) []pointRow {
	out := make([]pointRow, len(rows))
	// As the CSV writer formats them, so that the table can be checked
	// against `clipformer results --format csv`.
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for i, r := range rows {
		p := pointRow{Row: r, Acc: "-", CI: "-", SNR: "-", AccV: g(r.Accuracy), CIV: g(r.CI95), SNRV: g(r.SNR), GamV: g(r.Gamma)}
		var others []string
		for _, o := range []string{axisValue("sigma_r", r.SigmaR, rows, func(x report.Row) float64 { return x.SigmaR }),
			axisValue("sigma_w", r.SigmaW, rows, func(x report.Row) float64 { return x.SigmaW }), r.Device} {
			if o != "" {
				others = append(others, o)
			}
		}
		p.Others = strings.Join(others, " ")
		if r.Trials > 0 {
			p.Acc, p.CI, p.SNR = fmt.Sprintf("%.2f", r.Accuracy), fmt.Sprintf("%.2f", r.CI95), fmt.Sprintf("%.2f", r.SNR)
			if r.SNR == 999 {
				p.SNR = "inf"
			}
		}
		out[i] = p
	}
	return out
}

// specYAML writes a spec in its YAML form: the proto's field names, in
// field order, in block style.
func specYAML(spec *cfpb.SweepSpec) string {
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(spec)
	if err != nil {
		return err.Error()
	}
	// protojson's spacing is deliberately unstable; re-encode it first.
	var compact bytes.Buffer
	if err := json.Compact(&compact, js); err != nil {
		return err.Error()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(compact.Bytes(), &doc); err != nil {
		return err.Error()
	}
	blockStyle(&doc)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err.Error()
	}
	return out.String()
}

// blockStyle clears the flow style JSON gives every mapping, keeping short
// lists of scalars on one line, and writes the seed, a 64-bit integer that
// JSON quotes, as the number it is.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], n.Content[i+1]; k.Value == "seed" && v.Kind == yaml.ScalarNode {
				v.Tag = "!!int"
			}
		}
	}
	if n.Kind == yaml.SequenceNode {
		flat := true
		for _, c := range n.Content {
			flat = flat && c.Kind == yaml.ScalarNode
		}
		if flat {
			n.Style = yaml.FlowStyle
		}
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// axisValue names an axis's value when the axis varies over rows.
func axisValue(name string, v float64, rows []report.Row, f func(report.Row) float64) string {
	for _, r := range rows {
		if f(r) != v {
			return name + "=" + strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	return ""
}
