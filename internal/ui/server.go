package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/clipformer/clipformer/internal/figure"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/proto/cfpb"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures a dashboard.
type Config struct {
	// Addr is where it listens; a bare ":PORT" is loopback. A loopback
	// address serves anyone who reaches it (HTTPS if TLS is set); any other
	// address needs TLS and Roots, and a session.
	Addr string
	// TLS is the server side of HTTPS (a coordinator's certificate); its
	// client-certificate settings are ignored: browsers log in with tokens.
	TLS *tls.Config
	// Roots are the cluster CAs that a token's certificate must chain to.
	Roots  *x509.CertPool
	Source Source
	// Enrich fills columns of the result rows that the Source cannot (the
	// hardware columns when the model file is readable here), as
	// `clipformer results` does; nil leaves the rows as report.Rows makes
	// them.
	Enrich func(rows []report.Row, spec *cfpb.SweepSpec, results []*cfpb.PointResult)
	// Title names what is served ("coordinator c1", "clipformer run").
	Title  string
	Logger *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// MinInterval is the least time between two live updates of a page
	// (default 500 ms: at most two a second); Tick the most (default 2 s).
	MinInterval, Tick time.Duration
}

// Server is a dashboard.
type Server struct {
	cfg     Config
	src     Source
	roots   *x509.CertPool
	open    bool // loopback without authentication
	log     *slog.Logger
	now     func() time.Time
	csrfKey []byte
	pages   *pages
	hub     *hub
	cache   *renderCache
}

// Errors of New.
var (
	ErrNeedTLS = errors.New("ui: a dashboard on a non-loopback address needs TLS and the cluster CA (--certs) to authenticate its users")
)

// New checks cfg and builds the dashboard; Run serves it.
func New(cfg Config) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("ui: no source")
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("ui: address %q: %w", cfg.Addr, err)
	}
	if host == "" {
		// A bare :PORT is loopback, as for --metrics: serving every
		// interface must be asked for by name (0.0.0.0:PORT).
		host = "127.0.0.1"
		cfg.Addr = net.JoinHostPort(host, port)
	}
	open := isLoopbackHost(host)
	if !open && (cfg.TLS == nil || cfg.Roots == nil) {
		return nil, fmt.Errorf("%w (address %s)", ErrNeedTLS, cfg.Addr)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = 500 * time.Millisecond
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 2 * time.Second
	}
	if cfg.Title == "" {
		cfg.Title = "clipformer"
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, src: cfg.Source, roots: cfg.Roots, open: open, log: cfg.Logger, now: cfg.Now, csrfKey: key, pages: p,
		hub: newHub(cfg.Source.Changed, cfg.MinInterval, cfg.Tick), cache: newRenderCache()}
	return s, nil
}

// Open reports whether the dashboard serves without authentication
// (loopback).
func (s *Server) Open() bool { return s.open }

// Handler routes the dashboard's requests.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /static/figure-font.ttf", serveFigureFont)
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { s.renderLogin(w, "") })
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.Handle("GET /{$}", s.reader(s.sweepsPage))
	mux.Handle("GET /sweeps/{id}", s.reader(s.sweepPage))
	mux.Handle("GET /sweeps/{id}/{file}", s.reader(s.file))
	mux.Handle("GET /cluster", s.reader(s.clusterPage))
	mux.Handle("GET /events", s.reader(s.events))
	mux.Handle("POST /sweeps/{id}/{action}", s.authenticated(s.act))
	return s.guard(mux)
}

// guard sets the headers every answer gets and refuses a foreign Host on
// an open dashboard.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !s.open {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !s.checkHost(r) {
			http.Error(w, "ui: this dashboard answers only to a loopback host name", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated runs h for a request with a valid session, or answers 401.
func (s *Server) authenticated(h func(http.ResponseWriter, *http.Request, session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		se, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="clipformer"`)
			w.WriteHeader(http.StatusUnauthorized)
			s.renderLogin(w, err.Error())
			return
		}
		h(w, r, se)
	})
}

// reader is authenticated for the read views: the client role or more.
func (s *Server) reader(h func(http.ResponseWriter, *http.Request, session)) http.Handler {
	return s.authenticated(func(w http.ResponseWriter, r *http.Request, se session) {
		if !allowed(se.Role, readRoles) {
			http.Error(w, fmt.Sprintf("ui: %s %q may not read the dashboard", se.Role, se.Name), http.StatusForbidden)
			return
		}
		h(w, r, se)
	})
}

// Run serves the dashboard on cfg.Addr until ctx ends; ready, if not nil,
// receives the address it listens on.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	lis, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ui: listen on %s: %w", s.cfg.Addr, err)
	}
	// Handlers see ctx end, so that event streams end with the server.
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return ctx }}
	if s.cfg.TLS != nil {
		c := s.cfg.TLS.Clone()
		// Browsers present no client certificate; they log in with a token.
		c.ClientAuth, c.ClientCAs, c.VerifyConnection = tls.NoClientCert, nil, nil
		c.NextProtos = []string{"h2", "http/1.1"}
		srv.TLSConfig = c
		lis = tls.NewListener(lis, c)
	}
	if ready != nil {
		ready(lis.Addr().String())
	}
	hctx, stopHub := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.hub.run(hctx)
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		srv.Close() // event streams do not end by themselves
	}()
	err = srv.Serve(lis)
	stopHub()
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// URL is the address to give a browser for the dashboard at addr.
func (s *Server) URL(addr string) string {
	scheme := "http"
	if s.cfg.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + addr + "/"
}

// serveFigureFont serves the font the plots' SVG was laid out in, which
// style.css names in an @font-face, so that their text keeps its measured
// width in a browser that lacks the font.
func serveFigureFont(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "font/ttf")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, "figure-font.ttf", time.Time{}, bytes.NewReader(figure.FontTTF))
}
