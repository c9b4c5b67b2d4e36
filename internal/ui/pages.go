package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// pages holds one template set per page, each the layout plus the page.
type pages struct {
	byName map[string]*template.Template
}

// regions are a page's parts that live updates replace, by element id.
var regions = map[string][]string{
	"sweeps":  {"sweeps"},
	"sweep":   {"summary", "plots", "points", "shards"},
	"cluster": {"cluster"},
	"login":   nil,
}

var funcs = template.FuncMap{
	"f1": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return time.Since(t).Round(100*time.Millisecond).String() + " ago"
	},
	"g": func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) },
	// rowActions hands the actions template a sweep and the CSRF token.
	"rowActions": func(r sweepRow, csrf string) any {
		return struct {
			sweepRow
			CSRF string
		}{r, csrf}
	},
}

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for name := range regions {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: templates of %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is a page to render: which, for whom, with what query.
type view struct {
	name, id string
	query    url.Values
	se       session
}

// path is the view's address, query included (its event stream's key).
func (v view) path() string {
	p := "/"
	switch v.name {
	case "sweep":
		p = "/sweeps/" + url.PathEscape(v.id)
	case "cluster":
		p = "/cluster"
	}
	if q := v.query.Encode(); q != "" {
		p += "?" + q
	}
	return p
}

// parseView finds the view of a page path (the events stream's page
// parameter).
func parseView(page string, se session) (view, error) {
	u, err := url.Parse(page)
	if err != nil || !strings.HasPrefix(u.Path, "/") {
		return view{}, fmt.Errorf("ui: page %q is not a dashboard path", page)
	}
	v := view{query: u.Query(), se: se}
	switch {
	case u.Path == "/":
		v.name = "sweeps"
	case u.Path == "/cluster":
		v.name = "cluster"
	case strings.HasPrefix(u.Path, "/sweeps/") && !strings.Contains(u.Path[len("/sweeps/"):], "/"):
		v.name, v.id = "sweep", u.Path[len("/sweeps/"):]
	default:
		return view{}, fmt.Errorf("ui: page %q is not a dashboard page", page)
	}
	return v, nil
}

// data builds a view's template data.
func (s *Server) data(ctx context.Context, v view) (any, error) {
	c := common{Title: s.cfg.Title, Page: v.path(), CSRF: s.csrfToken(v.se), Caller: v.se.Caller, Open: s.open}
	switch v.name {
	case "sweeps":
		sweeps, err := s.src.Sweeps(ctx)
		if err != nil {
			return nil, err
		}
		d := sweepsData{common: c}
		for _, sw := range sweeps {
			d.Sweeps = append(d.Sweeps, newSweepRow(sw, v.se.Caller))
		}
		return d, nil
	case "sweep":
		return s.sweepData(ctx, c, v)
	case "cluster":
		cl, err := s.src.Cluster(ctx)
		if err != nil {
			return nil, err
		}
		return clusterData{common: c, Cluster: cl}, nil
	}
	return nil, fmt.Errorf("ui: unknown page %s", v.name)
}

type sweepsData struct {
	common
	Sweeps []sweepRow
}

type clusterData struct {
	common
	Cluster *Cluster
}

type sweepData struct {
	common
	Sweep    sweepRow
	Spec     string
	Points   []pointRow
	Gammas   []gammaLink
	Gamma    float64
	Accuracy template.HTML
	SNR      template.HTML
	Heat     template.HTML
	Best     template.HTML
	Blocks   template.HTML
	Shards   shardMap
	// ShardImage is the shard map's address, new at each refresh.
	ShardImage string
}

type gammaLink struct {
	Gamma    float64
	URL      string
	Selected bool
}

// rows are a sweep's results as `clipformer results` makes them.
func (s *Server) rows(ctx context.Context, sw *cfpb.Sweep) ([]report.Row, error) {
	res, err := s.src.Results(ctx, sw.Id)
	if err != nil {
		return nil, err
	}
	rows := report.Rows(sw.Id, sw.Spec, res)
	if s.cfg.Enrich != nil {
		s.cfg.Enrich(rows, sw.Spec, res)
	}
	return rows, nil
}

func (s *Server) sweepData(ctx context.Context, c common, v view) (any, error) {
	sw, err := s.src.Sweep(ctx, v.id)
	if err != nil {
		return nil, err
	}
	rows, err := s.rows(ctx, sw)
	if err != nil {
		return nil, err
	}
	shards, err := s.src.Shards(ctx, v.id)
	if err != nil {
		return nil, err
	}
	d := sweepData{common: c, Sweep: newSweepRow(sw, v.se.Caller), Spec: specYAML(sw.Spec), Points: newPointRows(rows),
		Shards: newShardMap(shards)}
	d.ShardImage = fmt.Sprintf("/sweeps/%s/shards.png?v=%x", url.PathEscape(v.id), d.Shards.Hash)
	// The heat map and the block SNR are drawn at one gamma: the one asked
	// for, else the largest with results.
	gammas := gammaTicks(rows)
	d.Gamma = -1
	if g, err := strconv.ParseFloat(v.query.Get("gamma"), 64); err == nil && slices.Contains(gammas, g) {
		d.Gamma = g
	}
	for i := len(gammas) - 1; d.Gamma < 0 && i >= 0; i-- {
		for _, r := range rows {
			if r.Gamma == gammas[i] && r.Trials > 0 {
				d.Gamma = gammas[i]
				break
			}
		}
	}
	for _, g := range gammas {
		d.Gammas = append(d.Gammas, gammaLink{Gamma: g, URL: fmt.Sprintf("/sweeps/%s?gamma=%s", url.PathEscape(v.id), strconv.FormatFloat(g, 'g', -1, 64)),
			Selected: g == d.Gamma})
	}
	fc := report.FigureContext(sw.Spec, rows)
	d.Accuracy, d.SNR = PlotVersusGamma(fc, rows, false), PlotVersusGamma(fc, rows, true)
	d.Heat, d.Blocks = PlotGainHeatmap(fc, rows, d.Gamma), PlotBlockSNR(fc, rows, d.Gamma)
	d.Best = PlotBestPerGamma(fc, rows)
	return d, nil
}

// renderCache keeps each view's regions for the current hub version, so
// that every watcher of a page costs one render per refresh in all.
type renderCache struct {
	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	mu      sync.Mutex
	version uint64
	done    bool
	regions []region
	err     error
}

type region struct{ id, html string }

func newRenderCache() *renderCache { return &renderCache{entries: map[string]*cacheEntry{}} }

// maxCached bounds the views kept; past it the cache starts over.
const maxCached = 256

func (c *renderCache) entry(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		if len(c.entries) >= maxCached {
			c.entries = map[string]*cacheEntry{}
		}
		e = &cacheEntry{}
		c.entries[key] = e
	}
	return e
}

// regionsOf renders v's live regions for the hub's current version, or
// returns those already rendered for it.
func (s *Server) regionsOf(ctx context.Context, v view) ([]region, error) {
	version := s.hub.current()
	// The CSRF token is in the forms, so it is part of the key.
	e := s.cache.entry(v.path() + "\x00" + s.csrfToken(v.se) + "\x00" + v.se.Role)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done && e.version == version {
		return e.regions, e.err
	}
	e.regions, e.err = nil, nil
	d, err := s.data(ctx, v)
	if err == nil {
		t := s.pages.byName[v.name]
		for _, id := range regions[v.name] {
			var b bytes.Buffer
			if err = t.ExecuteTemplate(&b, "region-"+id, d); err != nil {
				break
			}
			e.regions = append(e.regions, region{id: id, html: b.String()})
		}
	}
	e.version, e.done, e.err = version, true, err
	return e.regions, e.err
}

// page renders a whole page.
func (s *Server) page(w http.ResponseWriter, r *http.Request, v view) {
	d, err := s.data(r.Context(), v)
	if err != nil {
		s.fail(w, err)
		return
	}
	var b bytes.Buffer
	if err := s.pages.byName[v.name].ExecuteTemplate(&b, "layout", d); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// fail answers an error of the source or of rendering.
func (s *Server) fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrForbidden):
		code = http.StatusForbidden
	case errors.Is(err, ErrRefused):
		code = http.StatusConflict
	case errors.Is(err, ErrUnavailable):
		code = http.StatusServiceUnavailable
	}
	if code == http.StatusInternalServerError {
		s.log.Error("dashboard", "err", err)
	}
	http.Error(w, err.Error(), code)
}

func (s *Server) sweepsPage(w http.ResponseWriter, r *http.Request, se session) {
	s.page(w, r, view{name: "sweeps", query: url.Values{}, se: se})
}

func (s *Server) sweepPage(w http.ResponseWriter, r *http.Request, se session) {
	q := url.Values{}
	if g := r.URL.Query().Get("gamma"); g != "" {
		q.Set("gamma", g)
	}
	s.page(w, r, view{name: "sweep", id: r.PathValue("id"), query: q, se: se})
}

func (s *Server) clusterPage(w http.ResponseWriter, r *http.Request, se session) {
	s.page(w, r, view{name: "cluster", query: url.Values{}, se: se})
}

// renderLogin shows the login form, with why the request was refused.
func (s *Server) renderLogin(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	s.pages.byName["login"].ExecuteTemplate(w, "layout", struct {
		common
		Message string
	}{common: common{Title: s.cfg.Title, Open: s.open}, Message: msg})
}

// file serves a sweep's shards.png or results.FORMAT.
func (s *Server) file(w http.ResponseWriter, r *http.Request, se session) {
	file := r.PathValue("file")
	if file == "shards.png" {
		s.shardImage(w, r)
		return
	}
	format, ok := strings.CutPrefix(file, "results.")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.download(w, r, format)
}

// download writes a sweep's results in one of report's formats, the same
// bytes as `clipformer results --format F`.
func (s *Server) download(w http.ResponseWriter, r *http.Request, format string) {
	if !slices.Contains(report.Formats, format) {
		http.Error(w, fmt.Sprintf("ui: format %q: want %s", format, strings.Join(report.Formats, ", ")), http.StatusNotFound)
		return
	}
	sw, err := s.src.Sweep(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	rows, err := s.rows(r.Context(), sw)
	if err != nil {
		s.fail(w, err)
		return
	}
	var b bytes.Buffer
	if err := report.WriteFormat(&b, format, rows); err != nil {
		s.fail(w, err)
		return
	}
	types := map[string]string{"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}
	w.Header().Set("Content-Type", types[format])
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, r.PathValue("id"), format))
	w.Write(b.Bytes())
}

func (s *Server) shardImage(w http.ResponseWriter, r *http.Request) {
	shards, err := s.src.Shards(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	b, err := shardPNG(shards)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=60") // the address changes with the state
	w.Write(b)
}

// act runs a posted action: with this session's CSRF token, by a role that
// may, and through the source, whose owner checks are the cluster's.
func (s *Server) act(w http.ResponseWriter, r *http.Request, se session) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	a := Action(r.PathValue("action"))
	roles, ok := actionRoles[a]
	if !ok {
		http.Error(w, fmt.Sprintf("ui: unknown action %q (want pause, resume, cancel or delete)", a), http.StatusNotFound)
		return
	}
	if err := s.checkCSRF(r, se); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	if !allowed(se.Role, roles) {
		http.Error(w, fmt.Sprintf("ui: %s %q may not %s a sweep (needs %s)", se.Role, se.Name, a, strings.Join(roles, " or ")), http.StatusForbidden)
		return
	}
	id := r.PathValue("id")
	if err := s.src.Act(r.Context(), se.Caller, a, id); err != nil {
		s.log.Info("dashboard action refused", "action", a, "sweep", id, "role", se.Role, "name", se.Name, "err", err)
		s.fail(w, err)
		return
	}
	s.log.Info("dashboard action", "action", a, "sweep", id, "role", se.Role, "name", se.Name)
	s.hub.broadcast() // the change shows at once on every page
	to := "/sweeps/" + url.PathEscape(id)
	if a == ActionDelete {
		to = "/"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
