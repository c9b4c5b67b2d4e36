package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// The manifests in deploy/kubernetes build (as `kubectl apply -k` does),
// decode strictly into the Kubernetes API types, and agree with each
// other, with the certificates certs.sh makes, with the Prometheus scrape
// configuration and with the flags of the clipformer commands they run.
func TestKubernetesManifests(t *testing.T) {
	objs, certDir := buildKubernetes(t)
	if len(objs.statefulSets) != 1 || len(objs.deployments) != 1 {
		t.Fatalf("%d StatefulSets and %d Deployments, want one of each", len(objs.statefulSets), len(objs.deployments))
	}
	var sts *appsv1.StatefulSet
	for _, s := range objs.statefulSets {
		sts = s
	}
	var workers *appsv1.Deployment
	for _, d := range objs.deployments {
		workers = d
	}
	t.Run("selectors and ports", func(t *testing.T) { checkSelectorsAndPorts(t, objs) })
	peers := coordinatorPeers(t, objs, sts)
	t.Run("coordinators", func(t *testing.T) { checkCoordinators(t, objs, sts, peers) })
	t.Run("probes", func(t *testing.T) { checkProbes(t, sts) })
	t.Run("workers", func(t *testing.T) { checkWorkers(t, workers, peers) })
	t.Run("certificates", func(t *testing.T) { checkCertificates(t, objs, certDir, peers) })
	t.Run("disruption budget", func(t *testing.T) { checkDisruptionBudget(t, objs, sts) })
	t.Run("network policies", func(t *testing.T) { checkNetworkPolicies(t, objs) })
	t.Run("prometheus", func(t *testing.T) { checkPrometheusTargets(t, objs, certDir) })
	for _, doc := range []string{"../../README.md", "../../docs/OPERATIONS.md"} {
		t.Run("commands in "+filepath.Base(doc), func(t *testing.T) { checkDocumentedCommands(t, objs, doc) })
	}
}

var kubectlRef = regexp.MustCompile(`\b(deployment|statefulset|service|svc|pod|pdb)/([a-z0-9-]+)`)

// checkDocumentedCommands: the kubectl lines of a document use the
// namespace and name objects the manifests make, and the clipformer
// commands in them parse against the real flags, dialling the
// port-forwarded port with the certificates certs.sh writes.
func checkDocumentedCommands(t *testing.T, objs *k8sObjects, doc string) {
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	lines, forwarded := 0, ""
	for _, line := range strings.Split(string(b), "\n") {
		// One shell command after another: split at &, && and ;.
		for _, cmd := range regexp.MustCompile(`&&|&|;`).Split(line, -1) {
			f := strings.Fields(strings.Trim(cmd, "` "))
			switch {
			case len(f) < 2 || strings.HasPrefix(f[0], "#"):
			case f[0] == "kubectl":
				lines++
				forwarded = checkKubectl(t, objs, doc, f, forwarded)
			case f[0] == "clipformer" && strings.Contains(cmd, "deploy/kubernetes/certs"):
				checkSubmitLine(t, doc, f[1:], forwarded)
			}
		}
	}
	if lines < 3 {
		t.Errorf("%s has %d kubectl commands, want those to deploy, scale and submit", doc, lines)
	}
}

// checkKubectl checks one kubectl command; it returns the local port a
// port-forward opens (or the previous one).
func checkKubectl(t *testing.T, objs *k8sObjects, doc string, f []string, forwarded string) string {
	t.Helper()
	cmd := strings.Join(f, " ")
	if i := slices.Index(f, "-k"); i >= 0 && i+1 < len(f) {
		if _, err := os.Stat(filepath.Join("../..", f[i+1], "kustomization.yaml")); err != nil {
			t.Errorf("%s: %s: %v", doc, cmd, err)
		}
	}
	refs := kubectlRef.FindAllStringSubmatch(cmd, -1)
	if len(refs) > 0 && (!slices.Contains(f, "-n") || f[slices.Index(f, "-n")+1] != objs.namespace) {
		t.Errorf("%s: %s: want -n %s", doc, cmd, objs.namespace)
	}
	for _, r := range refs {
		var ok bool
		switch r[1] {
		case "deployment":
			_, ok = objs.deployments[r[2]]
		case "statefulset":
			_, ok = objs.statefulSets[r[2]]
		case "service", "svc":
			_, ok = objs.services[r[2]]
		case "pdb":
			_, ok = objs.pdbs[r[2]]
		}
		if !ok {
			t.Errorf("%s: %s names %s, which the manifests do not make", doc, cmd, r[0])
		}
	}
	if slices.Contains(f, "port-forward") {
		for _, a := range f {
			if local, _, ok := strings.Cut(a, ":"); ok && local != "" && !strings.Contains(a, "/") {
				return local
			}
		}
	}
	return forwarded
}

// checkSubmitLine parses a documented clipformer command against its real
// flags: it must use the certificates certs.sh writes and dial the
// port-forwarded port.
func checkSubmitLine(t *testing.T, doc string, f []string, forwarded string) {
	t.Helper()
	got, err := realFlags(t, f[0]).parse(f[0], f[1:])
	if err != nil {
		t.Errorf("%s: %v", doc, err)
		return
	}
	if one(got, "certs") != "deploy/kubernetes/certs" {
		t.Errorf("%s: clipformer %s --certs %q, want deploy/kubernetes/certs (certs.sh)", doc, f[0], one(got, "certs"))
	}
	if _, port, _ := net.SplitHostPort(one(got, "coordinators")); forwarded == "" || port != forwarded {
		t.Errorf("%s: clipformer %s dials %q, the port-forward opens port %q", doc, f[0], one(got, "coordinators"), forwarded)
	}
	for _, operand := range got[""] {
		if _, err := os.Stat(filepath.Join("../..", operand)); err != nil {
			t.Errorf("%s: clipformer %s %s: %v", doc, f[0], operand, err)
		}
	}
}

// checkSelectorsAndPorts: each workload's selector matches its own pods
// and no other workload's; each Service selects pods that have its target
// ports; every object is in the namespace.
func checkSelectorsAndPorts(t *testing.T, objs *k8sObjects) {
	if objs.namespace == "" {
		t.Error("no Namespace object")
	}
	for _, p := range objs.templates() {
		var sel labels.Selector
		if s, ok := objs.statefulSets[strings.TrimPrefix(p.owner, "StatefulSet ")]; ok {
			sel = selectorOf(t, p.owner, s.Spec.Selector)
		} else {
			sel = selectorOf(t, p.owner, objs.deployments[strings.TrimPrefix(p.owner, "Deployment ")].Spec.Selector)
		}
		if got := objs.selecting(t, sel); len(got) != 1 || got[0].owner != p.owner {
			t.Errorf("%s's selector %s matches %d pod templates, want only its own", p.owner, sel, len(got))
		}
	}
	for name, s := range objs.services {
		pods := objs.selecting(t, labels.SelectorFromSet(s.Spec.Selector))
		if len(s.Spec.Selector) == 0 || len(pods) == 0 {
			t.Errorf("Service %s selects no pod (selector %v)", name, s.Spec.Selector)
		}
		for _, sp := range s.Spec.Ports {
			for _, p := range pods {
				if _, ok := containerPort(p, sp.TargetPort.String()); !ok {
					t.Errorf("Service %s port %s targets %s, which %s's pods do not expose", name, sp.Name, sp.TargetPort.String(), p.owner)
				}
			}
		}
		if s.Namespace != objs.namespace {
			t.Errorf("Service %s is in namespace %q, want %q", name, s.Namespace, objs.namespace)
		}
	}
	// One image everywhere, tagged by the kustomization's images entry.
	var images []string
	for _, p := range objs.templates() {
		for _, c := range p.spec.Spec.Containers {
			if !slices.Contains(images, c.Image) {
				images = append(images, c.Image)
			}
		}
	}
	if len(images) != 1 || !strings.Contains(images[0], ":") {
		t.Errorf("container images %q: want one image, tagged", images)
	}
	for name, s := range objs.statefulSets {
		if s.Namespace != objs.namespace {
			t.Errorf("StatefulSet %s is in namespace %q", name, s.Namespace)
		}
	}
	for name, d := range objs.deployments {
		if d.Namespace != objs.namespace {
			t.Errorf("Deployment %s is in namespace %q", name, d.Namespace)
		}
	}
}

// peer is one coordinator of the StatefulSet, as its --peer flag names it.
type peer struct{ id, raft, grpc string }

// coordinatorPeers are the peers every coordinator must be given: pod
// NAME-i, dialled at NAME-i.SERVICE on its raft and API ports.
func coordinatorPeers(t *testing.T, objs *k8sObjects, sts *appsv1.StatefulSet) []peer {
	t.Helper()
	p := podTemplate{"StatefulSet " + sts.Name, &sts.Spec.Template}
	raftPort, okR := containerPort(p, "raft")
	apiPort, okA := containerPort(p, "api")
	if !okR || !okA || sts.Spec.Replicas == nil {
		t.Fatalf("StatefulSet %s: container ports raft %v, api %v, replicas %v", sts.Name, okR, okA, sts.Spec.Replicas)
	}
	var out []peer
	for i := range int(*sts.Spec.Replicas) {
		pod := sts.Name + "-" + itoa(i)
		host := pod + "." + sts.Spec.ServiceName
		out = append(out, peer{pod, net.JoinHostPort(host, itoa(int(raftPort))), net.JoinHostPort(host, itoa(int(apiPort)))})
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// checkCoordinators: three replicas behind a headless Service that
// publishes not-ready pods, started in parallel, each told its own stable
// name and the same peer list, listening where its ports say.
func checkCoordinators(t *testing.T, objs *k8sObjects, sts *appsv1.StatefulSet, peers []peer) {
	if *sts.Spec.Replicas != 3 {
		t.Errorf("%d coordinators, want 3", *sts.Spec.Replicas)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q: the first coordinator cannot become ready alone, want Parallel", sts.Spec.PodManagementPolicy)
	}
	svc := objs.services[sts.Spec.ServiceName]
	switch {
	case svc == nil:
		t.Fatalf("serviceName %s: no such Service", sts.Spec.ServiceName)
	case svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses:
		t.Errorf("Service %s: clusterIP %q, publishNotReadyAddresses %v; want a headless Service publishing not-ready pods (peers find each other before any is ready)",
			svc.Name, svc.Spec.ClusterIP, svc.Spec.PublishNotReadyAddresses)
	case !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(sts.Spec.Template.Labels)):
		t.Errorf("Service %s does not select the coordinators", svc.Name)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	p := podTemplate{"StatefulSet " + sts.Name, &sts.Spec.Template}
	for _, self := range peers {
		got := containerFlags(t, c, self.id)
		given := slices.Clone(got["peer"])
		var want []string
		for _, q := range peers {
			want = append(want, q.id+","+q.raft+","+q.grpc)
		}
		sort.Strings(given)
		if !slices.Equal(given, want) {
			t.Errorf("pod %s: --peer %q, want %q", self.id, given, want)
		}
		for flagName, wantValue := range map[string]string{"id": self.id, "advertise": self.grpc, "raft-advertise": self.raft} {
			if v := one(got, flagName); v != wantValue {
				t.Errorf("pod %s: --%s %q, want %q", self.id, flagName, v, wantValue)
			}
		}
		checkListenPort(t, p, got, "listen", "api")
		checkListenPort(t, p, got, "raft-bind", "raft")
		checkListenPort(t, p, got, "metrics", "metrics")
		if one(got, "metrics-tls") != "true" {
			t.Errorf("pod %s: metrics on the pod's network need --metrics-tls", self.id)
		}
		checkDataVolume(t, sts, c, one(got, "data"))
		stop, err := time.ParseDuration(one(got, "stop-timeout"))
		grace := sts.Spec.Template.Spec.TerminationGracePeriodSeconds
		if err != nil || grace == nil || stop >= time.Duration(*grace)*time.Second {
			t.Errorf("--stop-timeout %s must be shorter than terminationGracePeriodSeconds (%s)", one(got, "stop-timeout"), describeSeconds(grace))
		}
	}
}

func describeSeconds(s *int64) string {
	if s == nil {
		return "unset: 30 s"
	}
	return strconv.FormatInt(*s, 10) + " s"
}

// checkListenPort: a listen flag's port is the container port of that name.
func checkListenPort(t *testing.T, p podTemplate, got map[string][]string, flagName, portName string) {
	t.Helper()
	_, port, err := net.SplitHostPort(one(got, flagName))
	want, ok := containerPort(p, portName)
	if err != nil || !ok || port != itoa(int(want)) {
		t.Errorf("%s: --%s %q listens off the container port %s (%d)", p.owner, flagName, one(got, flagName), portName, want)
	}
}

// checkDataVolume: --data is the mount of the StatefulSet's persistent
// volume claim.
func checkDataVolume(t *testing.T, sts *appsv1.StatefulSet, c corev1.Container, data string) {
	t.Helper()
	for _, vc := range sts.Spec.VolumeClaimTemplates {
		for _, m := range c.VolumeMounts {
			if m.Name == vc.Name && m.MountPath == data && !m.ReadOnly {
				return
			}
		}
	}
	t.Errorf("--data %s is not the mount of a volume claim template", data)
}

// checkProbes: readiness asks the gRPC health service for SERVING (a
// leader known), startup and liveness only for an answer (--live), all at
// the API port on loopback with the pod's own certificate.
func checkProbes(t *testing.T, sts *appsv1.StatefulSet) {
	c := sts.Spec.Template.Spec.Containers[0]
	p := podTemplate{"StatefulSet " + sts.Name, &sts.Spec.Template}
	identity := one(containerFlags(t, c, sts.Name+"-0"), "identity")
	if identity == "" {
		identity = c.Args[0] // a command's default identity is its role
	}
	for what, pr := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		if pr == nil || pr.Exec == nil || len(pr.Exec.Command) < 2 {
			t.Errorf("%s probe: want an exec probe running clipformer health", what)
			continue
		}
		cmd := pr.Exec.Command
		if cmd[0] != "/clipformer" || cmd[1] != "health" {
			t.Errorf("%s probe runs %q, want /clipformer health", what, cmd)
			continue
		}
		got, err := realFlags(t, "health").parse("health", cmd[2:])
		if err != nil {
			t.Errorf("%s probe: %v", what, err)
			continue
		}
		host, port, _ := net.SplitHostPort(one(got, "addr"))
		api, _ := containerPort(p, "api")
		if host != "127.0.0.1" || port != itoa(int(api)) {
			t.Errorf("%s probe asks %s, want 127.0.0.1:%d (the API port)", what, one(got, "addr"), api)
		}
		if live := one(got, "live") == "true"; live != (what != "readiness") {
			t.Errorf("%s probe: --live %v; all but readiness take any answer", what, live)
		}
		if id := one(got, "identity"); id != identity {
			t.Errorf("%s probe presents identity %q, the pod's certificate is %q", what, id, identity)
		}
	}
}

// checkWorkers: the workers dial exactly the coordinators' API addresses,
// each under its own id, and serve their metrics over TLS on their port.
func checkWorkers(t *testing.T, d *appsv1.Deployment, peers []peer) {
	c := d.Spec.Template.Spec.Containers[0]
	p := podTemplate{"Deployment " + d.Name, &d.Spec.Template}
	got := containerFlags(t, c, d.Name+"-abc12-xyz34")
	var dialled, want []string
	dialled = append(dialled, splitList(one(got, "coordinators"))...)
	for _, q := range peers {
		want = append(want, q.grpc)
	}
	sort.Strings(dialled)
	if !slices.Equal(dialled, want) {
		t.Errorf("workers dial --coordinators %q, want the coordinators' API addresses %q", dialled, want)
	}
	if !slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--id=") && strings.Contains(a, "$(POD_NAME)") }) {
		t.Error("workers share one certificate: each needs --id=$(POD_NAME) to be a distinct worker")
	}
	checkListenPort(t, p, got, "metrics", "metrics")
	if one(got, "metrics-tls") != "true" {
		t.Error("worker metrics on the pod's network need --metrics-tls")
	}
	// SIGTERM drains: the held shards finish before the process exits,
	// so the grace period must outlast a shard, far beyond the default.
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 30 {
		t.Errorf("worker terminationGracePeriodSeconds %s: a draining worker finishes its shards first; set it above the longest shard", describeSeconds(g))
	}
}

// checkCertificates: each pod mounts an existing Secret where clipformer
// looks for certificates, holding the CA and the pod's identity but never
// the CA's key; the coordinators' certificate is valid for every name
// they are dialled by.
func checkCertificates(t *testing.T, objs *k8sObjects, certDir string, peers []peer) {
	for _, p := range objs.templates() {
		c := p.spec.Spec.Containers[0]
		got := containerFlags(t, c, "pod-0")
		identity, dir := one(got, "identity"), one(got, "certs")
		if identity == "" {
			identity = c.Args[0]
		}
		for _, e := range c.Env {
			if e.Name == "CLIPFORMER_CERTS" && dir == "" {
				dir = e.Value
			}
		}
		secret := mountedSecret(t, objs, p, dir)
		if secret == nil {
			continue
		}
		for _, key := range []string{"ca.crt", identity + ".crt", identity + ".key"} {
			want, err := os.ReadFile(certDir + "/" + key)
			if err != nil || string(secret.Data[key]) != string(want) {
				t.Errorf("%s: Secret %s lacks %s as certs.sh writes it", p.owner, secret.Name, key)
			}
		}
	}
	for _, s := range objs.secrets {
		if _, ok := s.Data["ca.key"]; ok {
			t.Errorf("Secret %s holds the CA's key", s.Name)
		}
	}
	coord := certificate(t, certDir, "coordinator")
	hosts := []string{"127.0.0.1", "clipformer-api"}
	for _, q := range peers {
		for _, addr := range []string{q.raft, q.grpc} {
			h, _, _ := net.SplitHostPort(addr)
			hosts = append(hosts, h)
		}
	}
	for _, h := range hosts {
		if err := coord.VerifyHostname(h); err != nil {
			t.Errorf("the coordinators are dialled as %s: %v (certs.sh --hosts)", h, err)
		}
	}
	if _, ok := objs.services["clipformer-api"]; !ok {
		t.Error("no Service clipformer-api, which certs.sh names")
	}
}

// mountedSecret finds the Secret a pod mounts at dir.
func mountedSecret(t *testing.T, objs *k8sObjects, p podTemplate, dir string) *corev1.Secret {
	t.Helper()
	c := p.spec.Spec.Containers[0]
	for _, m := range c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range p.spec.Spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				if s := objs.secrets[v.Secret.SecretName]; s != nil {
					return s
				}
				t.Errorf("%s mounts Secret %s, which the kustomization does not make", p.owner, v.Secret.SecretName)
				return nil
			}
		}
	}
	t.Errorf("%s mounts no Secret at its certificate folder %q", p.owner, dir)
	return nil
}

// checkDisruptionBudget: at most one coordinator down at a time, and the
// budget covers exactly the coordinators.
func checkDisruptionBudget(t *testing.T, objs *k8sObjects, sts *appsv1.StatefulSet) {
	if len(objs.pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want one for the coordinators", len(objs.pdbs))
	}
	for name, pdb := range objs.pdbs {
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.String() != "1" || pdb.Spec.MinAvailable != nil {
			t.Errorf("PodDisruptionBudget %s: maxUnavailable %v, minAvailable %v; want maxUnavailable 1", name, pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
		}
		got := objs.selecting(t, selectorOf(t, "PodDisruptionBudget "+name, pdb.Spec.Selector))
		if len(got) != 1 || got[0].owner != "StatefulSet "+sts.Name {
			t.Errorf("PodDisruptionBudget %s covers %d pod templates, want only the coordinators", name, len(got))
		}
	}
}

// checkNetworkPolicies: raft only from coordinators; the API from
// workers, clients and coordinators; metrics only from Prometheus; every
// port a selected pod exposes is reachable from someone.
func checkNetworkPolicies(t *testing.T, objs *k8sObjects) {
	client := labels.Set{"app.kubernetes.io/name": "clipformer", "app.kubernetes.io/component": "client"}
	prometheus := labels.Set{"app.kubernetes.io/name": "prometheus"}
	for name, np := range objs.policies {
		pods := objs.selecting(t, selectorOf(t, "NetworkPolicy "+name, &np.Spec.PodSelector))
		if len(pods) == 0 || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			t.Errorf("NetworkPolicy %s selects %d pods, policy types %v", name, len(pods), np.Spec.PolicyTypes)
			continue
		}
		sources := map[string][]string{} // port name -> who may connect
		for _, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 || len(rule.Ports) == 0 {
				t.Errorf("NetworkPolicy %s: a rule without from or ports lets anyone in", name)
			}
			for _, port := range rule.Ports {
				for _, p := range pods {
					if _, ok := containerPort(p, port.Port.String()); !ok {
						t.Errorf("NetworkPolicy %s: port %s is not a port of %s", name, port.Port.String(), p.owner)
					}
				}
				for _, from := range rule.From {
					sources[port.Port.String()] = append(sources[port.Port.String()], describePeer(t, objs, from, client, prometheus))
				}
			}
		}
		for _, p := range pods {
			for _, cp := range p.spec.Spec.Containers[0].Ports {
				if len(sources[cp.Name]) == 0 {
					t.Errorf("NetworkPolicy %s: nobody may reach port %s of %s", name, cp.Name, p.owner)
				}
			}
		}
		want := map[string][]string{"metrics": {"prometheus"}}
		if slices.ContainsFunc(pods, func(p podTemplate) bool { return strings.HasPrefix(p.owner, "StatefulSet") }) {
			want["raft"] = []string{"StatefulSet clipformer-coordinator"}
			want["api"] = []string{"Deployment clipformer-worker", "StatefulSet clipformer-coordinator", "clients"}
		}
		for port, w := range want {
			got := slices.Clone(sources[port])
			sort.Strings(got)
			if !slices.Equal(got, w) {
				t.Errorf("NetworkPolicy %s: port %s reachable from %q, want %q", name, port, got, w)
			}
		}
	}
}

// describePeer says whom a NetworkPolicy peer admits: the workload whose
// pods it selects in this namespace, "clients", "prometheus", or what it
// is if none of those.
func describePeer(t *testing.T, objs *k8sObjects, from networkingv1.NetworkPolicyPeer, client, prometheus labels.Set) string {
	t.Helper()
	switch {
	case from.IPBlock != nil:
		return "ipBlock " + from.IPBlock.CIDR
	case from.PodSelector == nil:
		return "every pod of the selected namespaces"
	}
	sel := selectorOf(t, "a NetworkPolicy peer", from.PodSelector)
	if from.NamespaceSelector != nil {
		if labels.Equals(from.PodSelector.MatchLabels, prometheus) {
			return "prometheus"
		}
		return "pods " + sel.String() + " of other namespaces"
	}
	if labels.Equals(from.PodSelector.MatchLabels, client) {
		return "clients"
	}
	var owners []string
	for _, p := range objs.selecting(t, sel) {
		owners = append(owners, p.owner)
	}
	if len(owners) == 0 {
		return "pods " + sel.String() + ", none of them in the manifests"
	}
	return strings.Join(owners, "+")
}

// checkPrometheusTargets: each DNS name deploy/prometheus scrapes is a
// headless Service in the namespace selecting pods that serve their
// metrics over TLS on that port, with a certificate valid for the
// configured server_name.
func checkPrometheusTargets(t *testing.T, objs *k8sObjects, certDir string) {
	var cfg struct {
		ScrapeConfigs []struct {
			JobName   string `json:"job_name"`
			TLSConfig struct {
				ServerName string `json:"server_name"`
			} `json:"tls_config"`
			DNSSDConfigs []struct {
				Names []string `json:"names"`
				Port  int      `json:"port"`
			} `json:"dns_sd_configs"`
		} `json:"scrape_configs"`
	}
	b, err := os.ReadFile("../../deploy/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	targets := 0
	for _, sc := range cfg.ScrapeConfigs {
		for _, sd := range sc.DNSSDConfigs {
			for _, name := range sd.Names {
				targets++
				checkPrometheusTarget(t, objs, certDir, sc.JobName, name, sd.Port, sc.TLSConfig.ServerName)
			}
		}
	}
	if targets != 2 {
		t.Errorf("prometheus.yml scrapes %d DNS names, want the coordinators' and the workers'", targets)
	}
}

func checkPrometheusTarget(t *testing.T, objs *k8sObjects, certDir, job, name string, port int, serverName string) {
	t.Helper()
	svcName, rest, _ := strings.Cut(name, ".")
	svc := objs.services[svcName]
	if svc == nil || rest != objs.namespace+".svc.cluster.local" || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("job %s scrapes %s: want SERVICE.%s.svc.cluster.local of a headless Service", job, name, objs.namespace)
		return
	}
	for _, p := range objs.selecting(t, labels.SelectorFromSet(svc.Spec.Selector)) {
		if got, ok := containerPort(p, "metrics"); !ok || int(got) != port {
			t.Errorf("job %s scrapes port %d; %s serves metrics on %d", job, port, p.owner, got)
		}
		c := p.spec.Spec.Containers[0]
		got := containerFlags(t, c, "pod-0")
		identity := one(got, "identity")
		if identity == "" {
			identity = c.Args[0]
		}
		if one(got, "metrics-tls") != "true" {
			t.Errorf("job %s scrapes over TLS, %s serves plain text", job, p.owner)
		}
		if err := certificate(t, certDir, identity).VerifyHostname(serverName); err != nil {
			t.Errorf("job %s expects server_name %s; %s's certificate %s: %v", job, serverName, p.owner, identity, err)
		}
	}
}
