#!/usr/bin/env bash
# UDP through the tap, penne against Debian's pasta in the same run.
#
# Both translators run "-- COMMAND" in a new namespace configured like the host;
# the client inside sends to the namespace's default gateway, which both map to
# the host's loopback, where the servers listen. Paths measured:
#   iperf3 -u at full rate (-b 0), datagrams of 1472 bytes at MTU 1500 and of
#   65492 bytes at MTU 65520 (the largest that fit one frame), namespace -> host
#   and host -> namespace (-R: the host sends on the flow the namespace opened);
#   the rate is what the receiver got (Gbit/s), with the loss iperf3 reports;
#   RR/s: 1-byte UDP request/response, one flow, one outstanding request.
# Prints a table with the penne/pasta ratio. Needs root (pasta --runas 0),
# iperf3 and python3; installs iperf3 and passt with apt if missing.
# Usage: bench/udp.sh [SECONDS]   (default 5 per test)
set -u
DUR=${1:-5}
. "$(dirname "$0")/lib.sh"
PORT=7301; RRPORT=7311
work=$(mktemp -d)
cleanup() { kill $srv $rrsrv 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
iperf3 -s -B 127.0.0.1 -p $PORT >/dev/null 2>&1 & srv=$!
cat > "$work/rr.py" <<'PY'
import socket, sys, time
mode, host, port, dur = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if mode == "server":
    s.bind((host, port))
    while True:
        b, a = s.recvfrom(64)
        s.sendto(b, a)
s.connect((host, port)); s.settimeout(1)
n = 0; end = time.time() + dur
while time.time() < end:
    s.send(b"x")
    try:
        s.recv(64); n += 1
    except socket.timeout:
        pass
print(int(n / dur))
PY
python3 "$work/rr.py" server 127.0.0.1 $RRPORT 0 & rrsrv=$!
sleep 0.5

GW='$(ip route show default | awk "{print \$3}")'
# Receiver's rate in Gbit/s and the loss, from iperf3's JSON (sum_received where this iperf3 has it).
rate() { python3 -c '
import json, sys
d = json.load(sys.stdin)["end"]
s = d.get("sum_received") or d["sum"]
lost = d["sum"].get("lost_percent", 0.0)
bps = s["bits_per_second"] if "sum_received" in d else s["bits_per_second"] * (1 - lost / 100)
print("%.2f %.1f" % (bps / 1e9, lost))' 2>/dev/null || echo "fail -"; }
printf '| path | pasta | penne | penne/pasta |\n|---|---|---|---|\n'
for dir in "" -R; do
    label="ns->host"; [ "$dir" = -R ] && label="host->ns (-R)"
    for mtu in 1500 65520; do
        len=$((mtu - 28))
        read -r a al <<<"$(inns pasta $mtu "iperf3 -u -b 0 -l $len -c $GW -p $PORT -t $DUR $dir -J" | rate)"
        read -r b bl <<<"$(inns penne $mtu "iperf3 -u -b 0 -l $len -c $GW -p $PORT -t $DUR $dir -J" | rate)"
        r=$(python3 -c "print('%.2f' % ($b/$a))" 2>/dev/null || echo -)
        printf '| %s iperf3 -u, %s-byte datagrams (MTU %s), Gbit/s received (loss %%) | %s (%s) | %s (%s) | %s |\n' \
            "$label" $len $mtu "$a" "$al" "$b" "$bl" "$r"
    done
done
# 2 s of warm-up first (penne's JIT compiles the path then, as in a long-running translator), not counted.
a=$(inns pasta 65520 "python3 $work/rr.py rr $GW $RRPORT 2 >/dev/null; python3 $work/rr.py rr $GW $RRPORT $DUR")
b=$(inns penne 65520 "python3 $work/rr.py rr $GW $RRPORT 2 >/dev/null; python3 $work/rr.py rr $GW $RRPORT $DUR")
r=$(python3 -c "print('%.2f' % ($b/$a))" 2>/dev/null || echo -)
printf '| ns->host UDP RR (1 byte, one flow), per second | %s | %s | %s |\n' "$a" "$b" "$r"
