#!/usr/bin/env bash
# TCP through the tap, namespace -> host, penne against Debian's pasta in the same run.
#
# Both translators run "-- COMMAND" in a new namespace configured like the host;
# the client inside connects to the namespace's default gateway, which both map
# to the host's loopback (pasta's default --map-host-loopback), where the server
# listens. Paths measured:
#   iperf3 1 and 4 streams, MTU 65520 (default) and 1500 (-m 1500), Gbit/s,
#   data both ways (-R: the host sends on the connection the namespace opened);
#   host -> namespace through -t (server inside, host client to the host's own address);
#   RR/s  1-byte request/response on one connection;
#   CRR/s connect + 1-byte request/response + close.
# Prints a table with the penne/pasta ratio. Needs root (pasta --runas 0),
# iperf3 and python3; installs iperf3 and passt with apt if missing.
# Usage: bench/tcp.sh [SECONDS]   (default 5 per test)
set -u
DUR=${1:-5}
. "$(dirname "$0")/lib.sh"
PORT=5301; RRPORT=5311   # below the ephemeral range (CRR leaves thousands of TIME_WAITs there)
work=$(mktemp -d)
cleanup() { kill $srv $rrsrv 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
iperf3 -s -B 127.0.0.1 -p $PORT >/dev/null 2>&1 & srv=$!
python3 "$root/bench/tcp_rr.py" server 127.0.0.1 $RRPORT 0 & rrsrv=$!
sleep 0.5

GW='$(ip route show default | awk "{print \$3}")'
gbps() { python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null || echo fail; }
printf '| path | pasta | penne | penne/pasta |\n|---|---|---|---|\n'
for dir in "" -R; do
    label="ns->host"; [ "$dir" = -R ] && label="host->ns (iperf3 -R on a connection from the ns)"
    for mtu in 65520 1500; do
        for streams in 1 4; do
            a=$(inns pasta $mtu "iperf3 -c $GW -p $PORT -t $DUR -P $streams $dir -J" | gbps)
            b=$(inns penne $mtu "iperf3 -c $GW -p $PORT -t $DUR -P $streams $dir -J" | gbps)
            r=$(python3 -c "print('%.2f' % ($b/$a))" 2>/dev/null || echo -)
            printf '| %s iperf3 MTU %s, %s stream(s), Gbit/s | %s | %s | %s |\n' "$label" $mtu $streams "$a" "$b" "$r"
        done
    done
done
# Host -> namespace through -t: the server runs inside, the host client connects to the host's
# own upstream address (a non-loopback source, so it goes through the tap, not a splice).
HOST_IP=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
INPORT=5321
tapin() {
    local name=$1 mtu=$2 streams=$3
    local mopt=(); [ "$mtu" != 65520 ] && mopt=(-m "$mtu")
    if [ "$name" = pasta ]; then
        pasta --runas 0 --config-net -t $INPORT -T none -u none -U none "${mopt[@]}" -- iperf3 -s -p $INPORT -1 >/dev/null 2>&1 &
    else
        "$PENNE" -t $INPORT -T none -u none -U none "${mopt[@]}" -- iperf3 -s -p $INPORT -1 >/dev/null 2>&1 &
    fi
    local tr=$!
    sleep 2
    iperf3 -c "$HOST_IP" -p $INPORT -t $DUR -P "$streams" -J 2>/dev/null | gbps
    wait $tr 2>/dev/null
}
if [ -n "$HOST_IP" ]; then
    for mtu in 65520 1500; do
        for streams in 1 4; do
            a=$(tapin pasta $mtu $streams); b=$(tapin penne $mtu $streams)
            r=$(python3 -c "print('%.2f' % ($b/$a))" 2>/dev/null || echo -)
            printf '| host->ns via -t (tap-in) iperf3 MTU %s, %s stream(s), Gbit/s | %s | %s | %s |\n' $mtu $streams "$a" "$b" "$r"
        done
    done
fi
for mode in rr crr; do
    # 2 s of warm-up first, not counted (as bench/udp.sh): each translator starts fresh here, and
    # penne's JIT would otherwise compile the path during the measurement.
    a=$(inns pasta 65520 "python3 $root/bench/tcp_rr.py $mode $GW $RRPORT 2 >/dev/null; python3 $root/bench/tcp_rr.py $mode $GW $RRPORT $DUR")
    b=$(inns penne 65520 "python3 $root/bench/tcp_rr.py $mode $GW $RRPORT 2 >/dev/null; python3 $root/bench/tcp_rr.py $mode $GW $RRPORT $DUR")
    r=$(python3 -c "print('%.2f' % ($b/$a))" 2>/dev/null || echo -)
    printf '| ns->host %s, per second | %s | %s | %s |\n' "$(echo $mode | tr a-z A-Z)" "$a" "$b" "$r"
done
