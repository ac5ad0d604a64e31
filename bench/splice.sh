#!/usr/bin/env bash
# Loopback splicing, penne against Debian's pasta in the same run, with plain host loopback as
# the reference (what a splice could at best approach: it carries every byte over two loopback
# TCP connections instead of one).
#
# Paths measured, each with iperf3 1 and 4 streams in both directions (-R: the server sends):
#   splice-out: -T, client in the namespace -> 127.0.0.1:PORT there -> server on the host's loopback;
#   splice-in:  -t, client on the host -> 127.0.0.1:PORT -> server in the namespace;
#   loopback:   client and server on the host's loopback, no translator.
# Then RR/s (1-byte request/response on one connection) and CRR/s (connect + RR + close) on
# each path. pasta and penne run one after the other (both listen on the same host ports), then
# the loopback reference, all in one run; repeat the run to see the spread.
# Needs root (pasta --runas 0), iperf3, python3; installs iperf3 and passt with apt if missing.
# Usage: bench/splice.sh [SECONDS]   (default 5 per test; ports PORT_BASE+1..+4, default 5330)
set -u
DUR=${1:-5}
. "$(dirname "$0")/lib.sh"
PB=${PORT_BASE:-5330}
P_OUT=$((PB + 1)); P_RR_OUT=$((PB + 2)); P_IN=$((PB + 3)); P_RR_IN=$((PB + 4))
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
# Host-side servers for splice-out and the loopback reference.
iperf3 -s -B 127.0.0.1 -p $P_OUT >/dev/null 2>&1 & pids+=($!)
python3 "$root/bench/tcp_rr.py" server 127.0.0.1 $P_RR_OUT 0 & pids+=($!)
sleep 0.5
gbps() { python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null || echo fail; }

# tests RUN_OUT: every measurement, one "KEY VALUE" line each. RUN_OUT runs a command where the
# splice-out client lives (the namespace, or the host for the loopback reference); the splice-in
# client always runs on the host, towards 127.0.0.1:P_IN (absent for the loopback reference).
tests() {
    local run_out=$1 in=$2 dir streams mode
    for dir in "" -R; do
        for streams in 1 4; do
            echo "out$dir-$streams $($run_out iperf3 -c 127.0.0.1 -p $P_OUT -t $DUR -P $streams $dir -J | gbps)"
            [ "$in" = 1 ] && echo "in$dir-$streams $(iperf3 -c 127.0.0.1 -p $P_IN -t $DUR -P $streams $dir -J | gbps)"
        done
    done
    for mode in rr crr; do
        echo "out-$mode $($run_out python3 "$root/bench/tcp_rr.py" $mode 127.0.0.1 $P_RR_OUT $DUR)"
        [ "$in" = 1 ] && echo "in-$mode $(python3 "$root/bench/tcp_rr.py" $mode 127.0.0.1 $P_RR_IN $DUR)"
    done
}
NSPID=
in_nspid() { nsenter -t "$NSPID" -U -n --preserve-credentials -- "$@" 2>/dev/null || nsenter -t "$NSPID" -n -- "$@"; }
onhost() { "$@"; }
# The namespace command's PID as the host sees it: a descendant of the translator (pasta may run
# it as the init of a new PID namespace, where its own $$ would be 1).
desc() { local p; for p in $(pgrep -P "$1"); do echo "$p"; desc "$p"; done; }
nscmd() { local p; for p in $(desc "$1"); do grep -q "$root/bench/tcp_rr.py" "/proc/$p/cmdline" 2>/dev/null \
    && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sh ] && { echo "$p"; return; }; done; }

# peer NAME: a translator with -t and -T whose namespace runs the splice-in servers; all tests; stop.
peer() {
    local name=$1 tr i
    local opts=(-f --config-net -t $P_IN,$P_RR_IN -T $P_OUT,$P_RR_OUT -u none -U none)
    local cmd="iperf3 -s -p $P_IN >/dev/null 2>&1 & python3 $root/bench/tcp_rr.py server 0.0.0.0 $P_RR_IN 0 & wait"
    if [ "$name" = pasta ]; then
        pasta --runas 0 "${opts[@]}" -- sh -c "$cmd" >/dev/null 2>&1 &
    else
        "$PENNE" "${opts[@]}" -- sh -c "$cmd" >/dev/null 2>&1 &
    fi
    tr=$!
    NSPID=
    for i in $(seq 100); do NSPID=$(nscmd $tr); [ -n "$NSPID" ] && break; sleep 0.1; done
    [ -n "$NSPID" ] || { echo "$name: namespace command not found" >&2; kill $tr; return 1; }
    sleep 2
    tests in_nspid 1 > "$work/$name.txt"
    kill $(desc "$NSPID") "$NSPID" 2>/dev/null
    kill $tr 2>/dev/null; wait $tr 2>/dev/null
    sleep 1
}
peer pasta
peer penne
tests onhost 0 > "$work/loopback.txt"

val() { awk -v k="$2" '$1 == k {print $2}' "$work/$1.txt"; }
ratio() { python3 -c "print('%.2f' % ($1/$2))" 2>/dev/null || echo -; }
printf '| path | pasta | penne | plain loopback | penne/pasta | penne/loopback |\n|---|---|---|---|---|---|\n'
for p in out in; do
    name="splice-out (-T, ns -> host)"; [ $p = in ] && name="splice-in (-t, host -> ns)"
    for dir in "" -R; do
        for streams in 1 4; do
            k=$p$dir-$streams; a=$(val pasta $k); b=$(val penne $k); l=$(val loopback out$dir-$streams)
            printf '| %s iperf3 %s stream(s)%s, Gbit/s | %s | %s | %s | %s | %s |\n' "$name" $streams "${dir:+ -R}" \
                "$a" "$b" "$l" "$(ratio $b $a)" "$(ratio $b $l)"
        done
    done
    for mode in rr crr; do
        k=$p-$mode; a=$(val pasta $k); b=$(val penne $k); l=$(val loopback out-$mode)
        printf '| %s %s/s | %s | %s | %s | %s | %s |\n' "$name" "$(echo $mode | tr a-z A-Z)" \
            "$a" "$b" "$l" "$(ratio $b $a)" "$(ratio $b $l)"
    done
done
