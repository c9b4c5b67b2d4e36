package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// ruleFile is Prometheus's rule-file format, as far as alerts.yml uses it.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is promtool's rule unit-test format, as far as alerts_test.yml
// uses it.
type ruleTests struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	Tests              []struct {
		Name        string `yaml:"name"`
		Interval    string `yaml:"interval"`
		InputSeries []struct {
			Series string `yaml:"series"`
			Values string `yaml:"values"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// scrapeConfig is prometheus.yml, as far as it goes.
type scrapeConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName   string `yaml:"job_name"`
		Scheme    string `yaml:"scheme"`
		TLSConfig struct {
			CAFile     string `yaml:"ca_file"`
			CertFile   string `yaml:"cert_file"`
			KeyFile    string `yaml:"key_file"`
			ServerName string `yaml:"server_name"`
		} `yaml:"tls_config"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

// decodeStrict decodes a YAML file into v, refusing fields v lacks.
func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Every alert reads only registered metrics, names a severity and says
// what happened; every alert is unit-tested in alerts_test.yml, whose
// series are registered metrics too.
func TestAlertRulesReadRegisteredMetrics(t *testing.T) {
	known := registeredMetrics(t)
	var rules ruleFile
	decodeStrict(t, "prometheus/alerts.yml", &rules)
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			where := "alerts.yml: " + r.Alert
			if r.Alert == "" || alerts[r.Alert] {
				t.Errorf("%s: an alert without a name, or named twice", where)
			}
			alerts[r.Alert] = true
			if n := checkMetrics(t, known, where, r.Expr); n == 0 {
				t.Errorf("%s reads no metric: %q", where, r.Expr)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", where, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s has no summary", where)
			}
		}
	}
	for _, want := range []string{"ClipformerNoLeader", "ClipformerNondeterminismAlarm", "ClipformerHighFailureRate",
		"ClipformerWorkersLost", "ClipformerSweepNoProgress"} {
		if !alerts[want] {
			t.Errorf("alerts.yml lacks %s", want)
		}
	}

	var tests ruleTests
	decodeStrict(t, "prometheus/alerts_test.yml", &tests)
	fired := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, s := range tc.InputSeries {
			checkMetrics(t, known, "alerts_test.yml: "+tc.Name, s.Series)
		}
		for _, a := range tc.AlertRuleTest {
			if !alerts[a.Alertname] {
				t.Errorf("alerts_test.yml: %s tests an alert alerts.yml does not have: %s", tc.Name, a.Alertname)
			}
			fired[a.Alertname] = fired[a.Alertname] || len(a.ExpAlerts) > 0
		}
	}
	for a := range alerts {
		if !fired[a] {
			t.Errorf("alerts_test.yml never sees %s fire", a)
		}
	}
}

// The scrape configuration loads the rules beside it, and the jobs the
// rules and the dashboard name are the jobs it scrapes.
func TestScrapeConfigLoadsTheRulesAndScrapesBothRoles(t *testing.T) {
	var cfg scrapeConfig
	decodeStrict(t, "prometheus/prometheus.yml", &cfg)
	for _, f := range cfg.RuleFiles {
		if _, err := os.Stat(filepath.Join("prometheus", f)); err != nil {
			t.Errorf("prometheus.yml: rule file %s: %v", f, err)
		}
	}
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
		if sc.Scheme != "https" || sc.TLSConfig.CertFile == "" || sc.TLSConfig.ServerName == "" {
			t.Errorf("prometheus.yml: job %s does not scrape over mutual TLS with a server name", sc.JobName)
		}
	}
	for _, j := range []string{"clipformer-coordinator", "clipformer-worker"} {
		if !jobs[j] {
			t.Errorf("prometheus.yml has no job %s", j)
		}
	}
	for _, f := range []string{"prometheus/alerts.yml", "grafana/clipformer.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range strings.Split(string(b), `job=`)[1:] {
			job := strings.Trim(strings.SplitN(strings.TrimLeft(part, `\"~`), `"`, 2)[0], `\`)
			if !jobs[job] {
				t.Errorf("%s names job %q, which prometheus.yml does not scrape", f, job)
			}
		}
	}
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// Every dashboard query reads registered metrics from the dashboard's
// Prometheus data source; panels have distinct ids and fit the 24-column
// grid.
func TestGrafanaDashboardReadsRegisteredMetrics(t *testing.T) {
	known := registeredMetrics(t)
	b, err := os.ReadFile("grafana/clipformer.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/clipformer.json: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("the dashboard has no title or uid")
	}
	ids, queries := map[int]bool{}, 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			where := fmt.Sprintf("dashboard panel %d %q", p.ID, p.Title)
			if ids[p.ID] {
				t.Errorf("%s: id used twice", where)
			}
			ids[p.ID] = true
			if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: grid position %+v outside the 24 columns", where, p.GridPos)
			}
			if p.Type != "row" && (p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0) {
				t.Errorf("%s: no query on the ${datasource} variable", where)
			}
			for _, tg := range p.Targets {
				queries++
				if checkMetrics(t, known, where, tg.Expr) == 0 {
					t.Errorf("%s: query %s reads no metric: %q", where, tg.RefID, tg.Expr)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil || q.Query == "" {
			t.Errorf("dashboard variable %s: query %s", v.Name, v.Query)
			continue
		}
		checkMetrics(t, known, "dashboard variable "+v.Name, q.Query)
	}
	if queries < 10 {
		t.Errorf("the dashboard has %d queries; the test found too few to mean anything", queries)
	}
}

// promtool, from Debian's prometheus package (scripts/install-deps.sh
// --monitoring), checks the configuration's syntax, the rules, and runs
// the rules' unit tests. Without it the test says so loudly and skips.
func TestPromtoolAcceptsTheConfigAndTheRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIPPED LOUDLY: promtool is not on PATH, so the Prometheus rules and configuration were NOT checked by Prometheus itself; install it with scripts/install-deps.sh --monitoring (Debian package prometheus)")
	}
	for _, args := range [][]string{
		{"check", "config", "--syntax-only", "prometheus/prometheus.yml"},
		{"check", "rules", "prometheus/alerts.yml"},
		{"test", "rules", "prometheus/alerts_test.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// docs/OPERATIONS.md describes every clipformer metric the coordinator and
// the worker register, and no other.
func TestOperationsGuideNamesEveryMetric(t *testing.T) {
	known := registeredMetrics(t)
	b, err := os.ReadFile("../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bclipformer_[a-z0-9_]+`).FindAllString(string(b), -1) {
		named[m] = true
		if !known[m] {
			t.Errorf("docs/OPERATIONS.md names %s, which neither a coordinator nor a worker registers", m)
		}
	}
	for name := range known {
		if !strings.HasPrefix(name, "clipformer_") || named[name] {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if s := strings.TrimSuffix(name, suffix); s != name && known[s] {
				base = s
			}
		}
		if !named[base] {
			t.Errorf("docs/OPERATIONS.md does not describe %s", base)
		}
	}
}
