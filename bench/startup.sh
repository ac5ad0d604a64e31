#!/usr/bin/env bash
# Start-to-ready time and idle resident memory of `penne -c SOCK -- sleep 600`
# (a namespace with a command in it), and the round trip of one penne-ctl call.
#
# "Ready" is the moment the control socket exists, measured from
# just before exec, polling every 2 ms; the number is the median (and min)
# of N runs. Idle RSS is VmRSS of the penne process after it has been ready
# and idle for IDLE seconds. Usage: bench/startup.sh [RUNS] [IDLE_SECONDS]
set -euo pipefail
runs=${1:-11}
idle=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
penne=$root/launcher/target/penne/bin/penne
[ -x "$penne" ] || { echo "build first: mvn -DskipTests package" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"; kill $pid 2>/dev/null || true' EXIT
pid=
times=()
for i in $(seq "$runs"); do
    sock=$dir/s$i.sock
    t0=$(date +%s%N)
    "$penne" -q -c "$sock" -- sleep 600 & pid=$!
    # The socket file appears when the control socket binds, which is the last step before ready.
    n=0
    until [ -S "$sock" ]; do
        sleep 0.002; n=$((n + 1))
        [ $n -lt 15000 ] || { echo "penne did not become ready" >&2; exit 1; }
    done
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
    if [ "$i" -eq "$runs" ]; then
        sleep "$idle"
        rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
    fi
    kill $pid; wait $pid 2>/dev/null || true
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
"${JAVA_HOME:+$JAVA_HOME/bin/}java" -version 2>&1 | head -1 | sed "s/^/jvm: /"
echo "start-to-ready: median ${sorted[$(( runs / 2 ))]} ms, min ${sorted[0]} ms, max ${sorted[$(( runs - 1 ))]} ms ($runs runs)"
echo "idle RSS after ${idle}s: $(( rss / 1024 )) MiB ($rss KiB)"
# penne-ctl round trip: a client JVM, connect, one command.
ctl=$root/launcher/target/penne/bin/penne-ctl
"$penne" -q -c "$dir/ctl.sock" -- sleep 600 & pid=$!
until [ -S "$dir/ctl.sock" ]; do sleep 0.01; done
ctimes=()
for i in $(seq 5); do
    t0=$(date +%s%N); "$ctl" "$dir/ctl.sock" penne:stats > /dev/null; t1=$(date +%s%N)
    ctimes+=($(( (t1 - t0) / 1000000 )))
done
csorted=($(printf '%s\n' "${ctimes[@]}" | sort -n))
echo "penne-ctl PATH penne:stats: median ${csorted[2]} ms (5 runs)"
