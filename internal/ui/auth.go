package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// sessionCookie holds the token a user logged in with; the token is the
// session (nothing is stored server-side), so any coordinator that trusts
// the same CA accepts it.
const sessionCookie = "clipformer_session"

// errUnauthenticated is answered with 401.
var errUnauthenticated = errors.New("ui: log in with a token from `clipformer ui token`")

// session is an authenticated request's caller and the token behind it
// ("" on an open loopback dashboard).
type session struct {
	Caller
	token string
}

// authenticate finds the caller of r: from its session cookie or bearer
// token, or, on an open (loopback) dashboard without either, the loopback
// admin.
func (s *Server) authenticate(r *http.Request) (session, error) {
	tok := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		tok = c.Value
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		tok = strings.TrimPrefix(h, "Bearer ")
	}
	if tok == "" || s.roots == nil {
		if s.open {
			return session{Caller: LoopbackCaller}, nil
		}
		return session{}, errUnauthenticated
	}
	c, err := VerifyToken(tok, s.roots, s.now())
	if err != nil {
		return session{}, err
	}
	return session{Caller: c, token: tok}, nil
}

// allowed reports whether role is among roles.
func allowed(role string, roles []string) bool { return slices.Contains(roles, role) }

// csrfToken is the value an action form must carry: an HMAC, under a key
// of this process, of the session it was served to. A page on another
// site can post a form but cannot read ours to learn it.
func (s *Server) csrfToken(se session) string {
	m := hmac.New(sha256.New, s.csrfKey)
	fmt.Fprintf(m, "%s/%s/%s", se.Role, se.Name, se.token)
	return hex.EncodeToString(m.Sum(nil))
}

// checkCSRF refuses an action without this session's CSRF token, or sent
// from another origin.
func (s *Server) checkCSRF(r *http.Request, se session) error {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if i := strings.Index(o, "://"); i < 0 || o[i+3:] != r.Host {
			return fmt.Errorf("ui: action from origin %s refused (this dashboard is %s)", o, r.Host)
		}
	}
	if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.csrfToken(se))) {
		return errors.New("ui: action refused: missing or stale CSRF token (reload the page)")
	}
	return nil
}

// checkHost refuses, on an open dashboard, a request whose Host is not a
// loopback name: a page of another site that rebinds its own DNS name to
// 127.0.0.1 must not reach us.
func (s *Server) checkHost(r *http.Request) bool {
	if !s.open {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return isLoopbackHost(host)
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// login opens a session from a posted token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4*maxTokenBytes)
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if s.roots == nil {
		http.Error(w, "this dashboard has no cluster CA to check tokens against: it is open on loopback", http.StatusBadRequest)
		return
	}
	c, err := VerifyToken(tok, s.roots, s.now())
	if err != nil {
		s.log.Info("dashboard login refused", "err", err, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusUnauthorized)
		s.renderLogin(w, err.Error())
		return
	}
	exp := s.now().Add(MaxTokenLife)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: !s.open,
		SameSite: http.SameSiteStrictMode, Expires: exp})
	s.log.Info("dashboard login", "role", c.Role, "name", c.Name, "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !s.open,
		SameSite: http.SameSiteStrictMode, Expires: time.Unix(0, 0)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
