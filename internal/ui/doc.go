// Package ui is the dashboard: a few server-rendered pages over a cluster
// (or over `clipformer run`'s single-process sweep) that stay live through
// Server-Sent Events.
//
// The dashboard is a client of the cluster. It reads and acts through a
// Source, which a coordinator node and a single-machine run both provide,
// and it follows the cluster's roles: read views need the client role;
// pause, resume and cancel need the client role, as the CLI commands do,
// and then pass the coordinator's owner check (the sweep's owner or an
// admin); delete needs an admin here (the CLI also lets an owner delete:
// a stray click must not lose results). On loopback it trusts its
// callers, as the coordinator trusts a shell on its machine; on any other
// address it serves HTTPS only and needs a session opened with a token
// that `clipformer ui token` signs with a client or admin certificate of
// the cluster (see token.go), and actions carry a CSRF token.
//
// Everything it serves is embedded: html/template pages, one stylesheet
// and one small script, no CDN. Plots are SVG drawn on the server
// (plots.go). Live updates are coalesced to at most two per second per
// page, and a browser that reads slowly only loses updates of its own: the
// hub never blocks on a subscriber (live.go).
package ui
