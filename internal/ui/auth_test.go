package ui

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clipformer/clipformer/internal/certs"
)

// pki is a cluster CA with a client (alice), an admin (root), a worker and
// a coordinator identity.
type pki struct {
	dir   string
	roots *x509.CertPool
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	if err := certs.CreateCA(dir); err != nil {
		t.Fatal(err)
	}
	for _, id := range []struct{ name, role string }{{"alice", certs.RoleClient}, {"root", certs.RoleAdmin},
		{"w1", certs.RoleWorker}, {"c1", certs.RoleCoordinator}} {
		if err := certs.Issue(dir, id.name, id.role, []string{"localhost"}); err != nil {
			t.Fatal(err)
		}
	}
	pem, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &pki{dir: dir, roots: pool}
}

// identity loads NAME's certificate and key.
func (p *pki) identity(t testing.TB, name string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	f := certs.InDir(p.dir, name)
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c, pair.PrivateKey.(crypto.Signer)
}

func (p *pki) token(t testing.TB, name string) string {
	t.Helper()
	c, k := p.identity(t, name)
	tok, err := IssueToken(c, k, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// serverTLS is the coordinator's server configuration.
func (p *pki) serverTLS(t testing.TB) *tls.Config {
	t.Helper()
	srv, _, err := certs.Load(certs.InDir(p.dir, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// authServer is a dashboard on a non-loopback address: HTTPS and sessions.
func authServer(t testing.TB, p *pki, src Source) http.Handler {
	t.Helper()
	s, err := New(Config{Addr: "192.0.2.7:8443", TLS: p.serverTLS(t), Roots: p.roots, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

func TestTokenNamesItsCertificatesRoleAndName(t *testing.T) {
	p := newPKI(t)
	for name, role := range map[string]string{"alice": RoleClient, "root": RoleAdmin} {
		c, err := VerifyToken(p.token(t, name), p.roots, time.Now())
		if err != nil || c.Role != role || c.Name != name {
			t.Errorf("token of %s: got %+v, %v; want %s %s", name, c, err, role, name)
		}
	}
}

func TestTokensThatMustBeRefused(t *testing.T) {
	p := newPKI(t)
	good := p.token(t, "alice")
	other := newPKI(t) // another cluster's CA
	wc, wk := p.identity(t, "w1")
	if _, err := IssueToken(wc, wk, time.Hour, time.Now()); err == nil {
		t.Error("IssueToken gave a worker certificate a dashboard token")
	}
	// A worker's token made by hand, past IssueToken's check.
	workerTok := handToken(t, wc, wk, time.Now(), time.Hour)
	ac, ak := p.identity(t, "alice")
	parts := strings.Split(good, ".")
	parts[2] = b64.EncodeToString([]byte(`{"iat":1,"exp":99999999999}`)) // a longer life, same signature
	for _, tc := range []struct {
		name, token string
		roots       func() *x509.CertPool
		at          time.Time
	}{
		{"another cluster's CA", good, func() *x509.CertPool { return other.roots }, time.Now()},
		{"expired", good, nil, time.Now().Add(2 * time.Hour)},
		{"altered claims", strings.Join(parts, "."), nil, time.Now()},
		{"worker role", workerTok, nil, time.Now()},
		{"life over the maximum", handToken(t, ac, ak, time.Now(), MaxTokenLife+time.Hour), nil, time.Now()},
		{"garbage", "cfui1.a.b.c", nil, time.Now()},
		{"empty", "", nil, time.Now()},
	} {
		roots := p.roots
		if tc.roots != nil {
			roots = tc.roots()
		}
		if c, err := VerifyToken(tc.token, roots, tc.at); !errors.Is(err, ErrToken) {
			t.Errorf("%s: got %+v, %v; want ErrToken", tc.name, c, err)
		}
	}
}

// handToken signs a token without IssueToken's checks.
func handToken(t *testing.T, c *x509.Certificate, k crypto.Signer, now time.Time, life time.Duration) string {
	t.Helper()
	claims := `{"iat":` + itoa(now.Unix()) + `,"exp":` + itoa(now.Add(life).Unix()) + `}`
	body := b64.EncodeToString(c.Raw) + "." + b64.EncodeToString([]byte(claims))
	sig, err := signToken(k, body)
	if err != nil {
		t.Fatal(err)
	}
	return tokenPrefix + "." + body + "." + b64.EncodeToString(sig)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestRequestWithoutCredentialsGets401AndChangesNothing(t *testing.T) {
	p := newPKI(t)
	src := newStateSource()
	id := src.submit(t, "s1", mustSpec(t, smallSpec), 10, 5)
	h := authServer(t, p, src)
	before, _ := src.Sweep(t.Context(), id)
	for _, req := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/sweeps/" + id}, {"GET", "/cluster"}, {"GET", "/events?page=/"},
		{"GET", "/sweeps/" + id + "/results.csv"}, {"GET", "/sweeps/" + id + "/shards.png"},
		{"POST", "/sweeps/" + id + "/pause"}, {"POST", "/sweeps/" + id + "/cancel"}, {"POST", "/sweeps/" + id + "/delete"},
	} {
		for _, cred := range []func(*http.Request){
			func(*http.Request) {},
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer cfui1.forged.token.here") },
			func(r *http.Request) { r.AddCookie(&http.Cookie{Name: sessionCookie, Value: "not-a-token"}) },
		} {
			r := httptest.NewRequest(req.method, "https://192.0.2.7:8443"+req.path, strings.NewReader("csrf=x"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			cred(r)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s %s: got %d, want 401", req.method, req.path, w.Code)
			}
		}
	}
	if a := src.acted(); len(a) > 0 {
		t.Errorf("unauthenticated requests acted: %v", a)
	}
	after, _ := src.Sweep(t.Context(), id)
	if after.State != before.State {
		t.Errorf("state changed from %v to %v", before.State, after.State)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// page GETs path with the token's session cookie and returns the body.
func page(t *testing.T, h http.Handler, token, path string) string {
	t.Helper()
	r := httptest.NewRequest("GET", "https://192.0.2.7:8443"+path, nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	return w.Body.String()
}

func post(h http.Handler, token, path string, form url.Values, origin string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "https://192.0.2.7:8443"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestActionsNeedTheSessionsCSRFTokenAndTheRole(t *testing.T) {
	p := newPKI(t)
	src := newStateSource()
	id := src.submit(t, "s1", mustSpec(t, smallSpec), 10, 5)
	h := authServer(t, p, src)
	alice, root := p.token(t, "alice"), p.token(t, "root")
	m := csrfRE.FindStringSubmatch(page(t, h, alice, "/sweeps/"+id))
	if m == nil {
		t.Fatal("the sweep page offers alice no action form")
	}
	aliceCSRF := m[1]
	rootCSRF := csrfRE.FindStringSubmatch(page(t, h, root, "/"))[1]
	for _, tc := range []struct {
		name, token, path, csrf, origin string
		want                            int
	}{
		{"no CSRF token", alice, "/pause", "", "", http.StatusForbidden},
		{"another session's CSRF token", alice, "/pause", rootCSRF, "", http.StatusForbidden},
		{"another origin", alice, "/pause", aliceCSRF, "https://evil.example", http.StatusForbidden},
		{"a client deletes", alice, "/delete", aliceCSRF, "", http.StatusForbidden},
		{"unknown action", alice, "/explode", aliceCSRF, "", http.StatusNotFound},
		{"pause", alice, "/pause", aliceCSRF, "https://192.0.2.7:8443", http.StatusSeeOther},
		{"an admin deletes", root, "/delete", rootCSRF, "", http.StatusSeeOther},
	} {
		if w := post(h, tc.token, "/sweeps/"+id+tc.path, url.Values{"csrf": {tc.csrf}}, tc.origin); w.Code != tc.want {
			t.Errorf("%s: got %d (%s), want %d", tc.name, w.Code, strings.TrimSpace(w.Body.String()), tc.want)
		}
	}
	want := []string{"client/alice pause s1", "admin/root delete s1"}
	if got := src.acted(); strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("actions reaching the source: got %q, want %q", got, want)
	}
}

func TestLoopbackDashboardIsOpenButOnlyToLoopbackHostNames(t *testing.T) {
	src := newStateSource()
	src.submit(t, "s1", mustSpec(t, smallSpec), 0, 0)
	s, err := New(Config{Addr: ":0", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Open() {
		t.Fatal("a bare :PORT is not served as loopback")
	}
	for host, want := range map[string]int{"127.0.0.1:8080": 200, "localhost:8080": 200, "[::1]:8080": 200, "evil.example:8080": http.StatusMisdirectedRequest} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Host %s: got %d, want %d", host, w.Code, want)
		}
	}
}

func TestNonLoopbackAddressNeedsTLSAndTheCA(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", "192.0.2.7:8080", "[::]:8080"} {
		if _, err := New(Config{Addr: addr, Source: newStateSource()}); !errors.Is(err, ErrNeedTLS) {
			t.Errorf("%s without TLS: got %v, want ErrNeedTLS", addr, err)
		}
	}
}

func TestLoginOpensASessionOnlyForAValidToken(t *testing.T) {
	p := newPKI(t)
	src := newStateSource()
	src.submit(t, "s1", mustSpec(t, smallSpec), 0, 0)
	h := authServer(t, p, src)
	login := func(token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "https://192.0.2.7:8443/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := login("cfui1.not.a.token"); w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
		t.Errorf("a bad token: %d, cookies %v", w.Code, w.Result().Cookies())
	}
	w := login(p.token(t, "alice"))
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("alice's token: %d, cookies %v", w.Code, cookies)
	}
	c := cookies[0]
	if c.Name != sessionCookie || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict", c)
	}
	if body := page(t, h, c.Value, "/"); !strings.Contains(body, "client alice") {
		t.Errorf("the session does not show alice: %s", body)
	}
}
