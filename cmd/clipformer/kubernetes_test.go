package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// k8sDir holds the manifests, relative to this package.
const k8sDir = "../../deploy/kubernetes"

// k8sObjects are the objects `kubectl apply -k deploy/kubernetes` creates,
// each decoded strictly into its Kubernetes API type.
type k8sObjects struct {
	namespace    string
	services     map[string]*corev1.Service
	statefulSets map[string]*appsv1.StatefulSet
	deployments  map[string]*appsv1.Deployment
	pdbs         map[string]*policyv1.PodDisruptionBudget
	policies     map[string]*networkingv1.NetworkPolicy
	secrets      map[string]*corev1.Secret
}

// buildKubernetes copies the manifests to a temporary folder, makes the
// certificates there with the arguments certs.sh gives `clipformer certs
// init`, builds the kustomization as kubectl does and decodes every object
// strictly. It returns the objects and the certificate folder.
func buildKubernetes(t *testing.T) (*k8sObjects, string) {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", k8sDir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	certDir := filepath.Join(dir, "certs")
	args := certsScriptArgs(t, certDir)
	if _, errOut, err := runCmd(t, args...); err != nil {
		t.Fatalf("certs.sh's command %q: %v\n%s", args, err, errOut)
	}
	built, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", k8sDir, err)
	}
	objs := &k8sObjects{services: map[string]*corev1.Service{}, statefulSets: map[string]*appsv1.StatefulSet{},
		deployments: map[string]*appsv1.Deployment{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		policies: map[string]*networkingv1.NetworkPolicy{}, secrets: map[string]*corev1.Secret{}}
	for _, r := range built.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		objs.add(t, b)
	}
	return objs, certDir
}

// add decodes one object strictly: an unknown or duplicated field fails.
func (o *k8sObjects) add(t *testing.T, b []byte) {
	t.Helper()
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(b, &tm); err != nil {
		t.Fatal(err)
	}
	var obj interface{ GetName() string }
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		obj = &corev1.Namespace{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "v1 Secret":
		obj = &corev1.Secret{}
	case "apps/v1 StatefulSet":
		obj = &appsv1.StatefulSet{}
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "policy/v1 PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1 NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	default:
		t.Fatalf("a %s %s the test does not know:\n%s", tm.APIVersion, tm.Kind, b)
	}
	if err := yaml.UnmarshalStrict(b, obj); err != nil {
		t.Fatalf("%s: %v\n%s", tm.Kind, err, b)
	}
	switch v := obj.(type) {
	case *corev1.Namespace:
		o.namespace = v.Name
	case *corev1.Service:
		o.services[v.Name] = v
	case *corev1.Secret:
		o.secrets[v.Name] = v
	case *appsv1.StatefulSet:
		o.statefulSets[v.Name] = v
	case *appsv1.Deployment:
		o.deployments[v.Name] = v
	case *policyv1.PodDisruptionBudget:
		o.pdbs[v.Name] = v
	case *networkingv1.NetworkPolicy:
		o.policies[v.Name] = v
	}
}

// certsScriptArgs are the arguments certs.sh passes to clipformer, with
// the certificate folder replaced by dir.
func certsScriptArgs(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k8sDir, "certs.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "certs" || f[2] != "init" {
			continue
		}
		args := f[1:]
		for i := range args {
			if args[i] == "--dir" && i+1 < len(args) {
				args[i+1] = dir
			}
		}
		return args
	}
	t.Fatal("certs.sh runs no `clipformer certs init`")
	return nil
}

// podTemplate is a workload's pod template, with its workload's name.
type podTemplate struct {
	owner string
	spec  *corev1.PodTemplateSpec
}

func (o *k8sObjects) templates() []podTemplate {
	var out []podTemplate
	for n, s := range o.statefulSets {
		out = append(out, podTemplate{"StatefulSet " + n, &s.Spec.Template})
	}
	for n, d := range o.deployments {
		out = append(out, podTemplate{"Deployment " + n, &d.Spec.Template})
	}
	return out
}

// selecting lists the pod templates a label selector matches.
func (o *k8sObjects) selecting(t *testing.T, sel labels.Selector) []podTemplate {
	t.Helper()
	var out []podTemplate
	for _, p := range o.templates() {
		if sel.Matches(labels.Set(p.spec.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

func selectorOf(t *testing.T, what string, ls *metav1.LabelSelector) labels.Selector {
	t.Helper()
	if ls == nil || len(ls.MatchLabels)+len(ls.MatchExpressions) == 0 {
		t.Fatalf("%s: an empty selector selects everything", what)
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return sel
}

// containerPort finds a port of a pod template's containers by name or
// number.
func containerPort(p podTemplate, port string) (int32, bool) {
	for _, c := range p.spec.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == port || strconv.Itoa(int(cp.ContainerPort)) == port {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// commandFlags is a command's flag set as its help lists it: each flag's
// name, whether it is boolean, and its value type.
type commandFlags map[string]string // name -> value type ("" for a boolean)

var helpFlagLine = regexp.MustCompile(`^  -(\S+)(?: (.+))?$`)

// realFlags reads the flags `clipformer COMMAND -h` lists: the command's
// own flag set, built without starting anything.
func realFlags(t *testing.T, command string) commandFlags {
	t.Helper()
	var help bytes.Buffer
	if err := run(context.Background(), []string{command, "-h"}, io.Discard, &help); err != flag.ErrHelp {
		t.Fatalf("clipformer %s -h: %v", command, err)
	}
	out := commandFlags{}
	for _, line := range strings.Split(help.String(), "\n") {
		if m := helpFlagLine.FindStringSubmatch(line); m != nil {
			out[m[1]] = m[2]
		}
	}
	if len(out) < 3 {
		t.Fatalf("clipformer %s -h lists %d flags:\n%s", command, len(out), help.String())
	}
	return out
}

// parse parses args as the command would, checking each value of a
// duration, integer or peer flag, and returns every value given by flag.
func (cf commandFlags) parse(command string, args []string) (map[string][]string, error) {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	got := map[string][]string{}
	for name, typ := range cf {
		if typ == "" {
			fs.BoolFunc(name, "", func(v string) error {
				if _, err := strconv.ParseBool(v); err != nil {
					return err
				}
				got[name] = append(got[name], v)
				return nil
			})
			continue
		}
		fs.Func(name, "", func(v string) error {
			if err := checkFlagValue(name, typ, v); err != nil {
				return err
			}
			got[name] = append(got[name], v)
			return nil
		})
	}
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("clipformer %s %s: %w", command, strings.Join(args, " "), err)
	}
	if fs.NArg() > 0 {
		got[""] = fs.Args() // the operands
	}
	return got, nil
}

func checkFlagValue(name, typ, v string) error {
	var err error
	switch {
	case name == "peer":
		err = new(peerList).Set(v)
	case typ == "duration":
		_, err = time.ParseDuration(v)
	case typ == "int" || typ == "int64":
		_, err = strconv.ParseInt(v, 10, 64)
	}
	return err
}

// expandEnv replaces $(VAR) in a container argument as the kubelet does,
// with the container's env values; $(POD_NAME) becomes pod.
func expandEnv(t *testing.T, c corev1.Container, pod, arg string) string {
	t.Helper()
	return regexp.MustCompile(`\$\(([A-Z_][A-Z0-9_]*)\)`).ReplaceAllStringFunc(arg, func(m string) string {
		name := m[2 : len(m)-1]
		for _, e := range c.Env {
			if e.Name != name {
				continue
			}
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
				return pod
			}
			if e.ValueFrom == nil {
				return e.Value
			}
		}
		t.Errorf("container %s: %s refers to $(%s), which its env does not define", c.Name, arg, name)
		return m
	})
}

// containerFlags parses a container's arguments (after its command word)
// against the real flags of that command, for the pod named pod.
func containerFlags(t *testing.T, c corev1.Container, pod string) map[string][]string {
	t.Helper()
	if len(c.Args) == 0 {
		t.Fatalf("container %s has no arguments", c.Name)
	}
	var args []string
	for _, a := range c.Args[1:] {
		args = append(args, expandEnv(t, c, pod, a))
	}
	got, err := realFlags(t, c.Args[0]).parse(c.Args[0], args)
	if err == nil && len(got[""]) > 0 {
		err = fmt.Errorf("arguments %q are no flags", got[""])
	}
	if err != nil {
		t.Fatalf("container %s: %v", c.Name, err)
	}
	return got
}

// one is the single value of a flag ("" if absent).
func one(got map[string][]string, name string) string {
	if v := got[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// certificate reads NAME.crt from dir.
func certificate(t *testing.T, dir, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s.crt holds no PEM block", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
