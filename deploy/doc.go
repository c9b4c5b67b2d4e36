// Package deploy holds the files an operator deploys next to the binary:
// Prometheus scrape configuration and alert rules (prometheus/), a Grafana
// dashboard (grafana/) and Kubernetes manifests (kubernetes/). It has no
// code; its tests check the monitoring files against the metrics the
// coordinators and workers really register (the Kubernetes manifests are
// checked against the binary's flags in cmd/clipformer).
package deploy
