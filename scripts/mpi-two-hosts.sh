#!/usr/bin/env bash
# Runs `cyclegan ARGS…` as 2 MPI ranks on two "hosts": two network namespaces joined by a
# veth pair (10.77.0.1 in cgA, 10.77.0.2 in cgB), Open MPI over TCP between them, mpirun
# started inside cgA and reaching cgB through an rsh agent that enters the namespace. The
# namespaces and the agent are removed however the run ends. Needs root (ip netns).
# Usage: scripts/mpi-two-hosts.sh /path/to/cyclegan train …
set -euo pipefail
bin="$1"; shift
subnet=10.77.0.0/24
work="$(mktemp -d)"
cleanup() {
  ip netns del cgA 2>/dev/null || true
  ip netns del cgB 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
cleanup_only_namespaces() { ip netns del cgA 2>/dev/null || true; ip netns del cgB 2>/dev/null || true; }
cleanup_only_namespaces
ip netns add cgA
ip netns add cgB
ip link add cgvethA type veth peer name cgvethB
ip link set cgvethA netns cgA
ip link set cgvethB netns cgB
ip -n cgA addr add 10.77.0.1/24 dev cgvethA
ip -n cgB addr add 10.77.0.2/24 dev cgvethB
for ns in cgA cgB; do ip -n "$ns" link set lo up; done
ip -n cgA link set cgvethA up
ip -n cgB link set cgvethB up
# the rsh agent: "host command…" -> the command inside that host's namespace
cat > "$work/agent" <<'AGENT'
#!/bin/sh
case "$1" in 10.77.0.1) ns=cgA ;; 10.77.0.2) ns=cgB ;; *) echo "unknown host $1" >&2; exit 1 ;; esac
shift
exec ip netns exec "$ns" sh -c "$*"
AGENT
chmod +x "$work/agent"
ip netns exec cgA mpirun --allow-run-as-root --oversubscribe -np 2 --host 10.77.0.1,10.77.0.2 \
  --mca plm_rsh_agent "$work/agent" --mca btl tcp,self \
  --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet" \
  -x CYCLEGAN_CHECK_RANKS -x CYCLEGAN_MPI_SHIM -x CYCLEGAN_TUNE_CACHE \
  "$bin" "$@"
