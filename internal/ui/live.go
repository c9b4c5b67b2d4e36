package ui

import (
	"context"
	"sync"
	"time"
)

// hub turns the source's changes into page refreshes: at most one per
// minInterval (coalescing every change in between), and at least one per
// tick while anyone watches (the live figures, images/s and ETA, move
// without a raft command). It never blocks on a subscriber: each has a
// one-slot mailbox, and a subscriber that has not taken the last signal
// simply finds one signal waiting, which is all it needs to render the
// page as it is now (drop and refresh).
type hub struct {
	changed     func() <-chan struct{}
	minInterval time.Duration
	tick        time.Duration
	// after is time.After (a test holds the pause open).
	after func(time.Duration) <-chan time.Time

	mu      sync.Mutex
	subs    map[chan struct{}]struct{}
	version uint64
}

func newHub(changed func() <-chan struct{}, minInterval, tick time.Duration) *hub {
	return &hub{changed: changed, minInterval: minInterval, tick: tick, after: time.After, subs: map[chan struct{}]struct{}{}}
}

// subscribe returns a mailbox that receives a signal after each refresh,
// and the function that ends the subscription.
func (h *hub) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

// current is the refresh count: pages rendered for the same version are
// the same page, and are rendered once for all its watchers.
func (h *hub) current() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version
}

// broadcast starts a new version and signals every subscriber without
// waiting for any.
func (h *hub) broadcast() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.version++
	for ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default: // it has a signal waiting already
		}
	}
}

// run broadcasts until ctx ends.
func (h *hub) run(ctx context.Context) {
	ticker := time.NewTicker(h.tick)
	defer ticker.Stop()
	changed := h.changed()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-ticker.C:
		}
		// Taken before the broadcast, so that a change during the pause
		// below is not missed: its channel is then already closed.
		changed = h.changed()
		h.broadcast()
		select {
		case <-ctx.Done():
			return
		case <-h.after(h.minInterval):
		}
	}
}
