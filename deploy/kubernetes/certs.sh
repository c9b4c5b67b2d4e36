#!/usr/bin/env bash
# Makes the development CA and the four identities deploy/kubernetes mounts
# (coordinator, worker, client, admin) in deploy/kubernetes/certs, which
# kustomization.yaml turns into one Secret per role. Safe to run again: it
# keeps what is there. The coordinators share one certificate, valid for
# every name they are dialled by: each pod's stable DNS name (raft and the
# API), the clipformer-api Service, and 127.0.0.1 (the probes, and a
# `kubectl port-forward`). ca.key stays in that folder: keep it out of the
# cluster. Set CLIPFORMER to the binary if clipformer is not on PATH.
set -euo pipefail
cd "$(dirname "$0")"
"${CLIPFORMER:-clipformer}" certs init --dir certs --coordinators coordinator --workers worker --clients client --admins admin --hosts localhost,127.0.0.1,clipformer-api,clipformer-coordinator-0.clipformer-coordinator,clipformer-coordinator-1.clipformer-coordinator,clipformer-coordinator-2.clipformer-coordinator,clipformer-coordinator-0.clipformer-coordinator.clipformer.svc.cluster.local,clipformer-coordinator-1.clipformer-coordinator.clipformer.svc.cluster.local,clipformer-coordinator-2.clipformer-coordinator.clipformer.svc.cluster.local
