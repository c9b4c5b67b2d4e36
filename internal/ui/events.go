package ui

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

// writeTimeout is how long one update may take to reach a browser; a
// browser slower than that loses its stream, and its EventSource
// reconnects and gets the page as it is then.
const writeTimeout = 10 * time.Second

// events streams a page's live regions as Server-Sent Events: an event
// "region" whose first data line is the element id and the rest its new
// HTML, sent only when it changed; "gone" when the page's sweep is no
// more.
func (s *Server) events(w http.ResponseWriter, r *http.Request, se session) {
	v, err := parseView(r.URL.Query().Get("page"), se)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	mailbox, unsubscribe := s.hub.subscribe()
	defer unsubscribe()
	rc := http.NewResponseController(w)
	sent := map[string]string{}
	ctx := r.Context()
	for {
		rs, err := s.regionsOf(ctx, v)
		var b strings.Builder
		switch {
		case errors.Is(err, ErrNotFound):
			b.WriteString("event: gone\ndata: \n\n")
		case err != nil:
			// Passing (an election): the next refresh tries again.
			s.log.Debug("dashboard events", "page", v.path(), "err", err)
			b.WriteString(": " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n\n")
		}
		for _, rg := range rs {
			if sent[rg.id] == rg.html {
				continue
			}
			sent[rg.id] = rg.html
			b.WriteString("event: region\ndata: " + rg.id + "\n")
			for _, line := range strings.Split(strings.ReplaceAll(rg.html, "\r", ""), "\n") {
				b.WriteString("data: " + line + "\n")
			}
			b.WriteString("\n")
		}
		if b.Len() > 0 {
			rc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := w.Write([]byte(b.String())); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if errors.Is(err, ErrNotFound) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-mailbox:
		}
	}
}
