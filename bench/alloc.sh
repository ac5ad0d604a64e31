#!/usr/bin/env bash
# Allocation on penne's loop thread while TCP flows through the tap, from a JFR recording.
#
# Runs an iperf3 transfer (namespace -> host, SECONDS long, then the reverse)
# through penne with Flight Recorder on; reads, for the thread penne-loop-default,
# the allocated-bytes counter (jdk.ThreadAllocationStatistics, sampled each
# second) at the start and end of the transfer, and the frames penne moved
# (penne:stats, asked from inside the namespace); prints bytes per frame and
# the top allocation sites JFR sampled on that thread.
# Usage: bench/alloc.sh [SECONDS]   (default 5; needs root, iperf3, python3)
set -u
DUR=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
PENNE=$root/launcher/target/penne/bin/penne
CTL=$root/launcher/target/penne/bin/penne-ctl
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$work"' EXIT
iperf3 -s -B 127.0.0.1 -p 35501 >/dev/null 2>&1 & srv=$!
cat > "$work/jfc.jfc" <<'JFC'
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0">
  <event name="jdk.ThreadAllocationStatistics"><setting name="enabled">true</setting><setting name="period">1 s</setting></event>
  <event name="jdk.ObjectAllocationSample"><setting name="enabled">true</setting><setting name="throttle">1000/s</setting><setting name="stackTrace">true</setting></event>
</configuration>
JFC
sleep 0.3
stats() { "$CTL" "$work/s" penne:stats | awk '$1=="ingress.frames"||$1=="egress.frames"{n+=$2} END{print n+0}'; }
PENNE_JAVA_OPTS="-XX:StartFlightRecording=filename=$work/rec.jfr,settings=$work/jfc.jfc,dumponexit=true" \
"$PENNE" -q -c "$work/s" -- bash -c "
    gw=\$(ip -4 route show default | awk '{print \$3}')
    iperf3 -c \$gw -p 35501 -t 1 >/dev/null   # warm-up: JIT, pools
    echo \"mark \$(date +%s%N) \$($CTL $work/s penne:stats | awk '\$1==\"ingress.frames\"||\$1==\"egress.frames\"{n+=\$2} END{print n+0}')\" > $work/start
    iperf3 -c \$gw -p 35501 -t $DUR >/dev/null; iperf3 -c \$gw -p 35501 -t $DUR -R >/dev/null
    sleep 1.2
    echo \"mark \$(date +%s%N) \$($CTL $work/s penne:stats | awk '\$1==\"ingress.frames\"||\$1==\"egress.frames\"{n+=\$2} END{print n+0}')\" > $work/end
"
read -r _ t0 f0 < "$work/start"; read -r _ t1 f1 < "$work/end"
jfr print --events jdk.ThreadAllocationStatistics "$work/rec.jfr" > "$work/tas.txt"
python3 - "$work/tas.txt" "$t0" "$t1" "$f0" "$f1" "$work/rec.jfr" <<'PY'
import re, sys, subprocess, datetime
path, t0, t1, f0, f1, rec = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
events, cur = [], {}
for line in open(path):
    m = re.match(r'\s*(startTime|allocated|thread) = (.*)', line)
    if m: cur[m.group(1)] = m.group(2)
    if line.strip() == '}' and 'thread' in cur:
        if 'penne-loop-default' in cur['thread']:
            v = cur['allocated'].replace(',', '')
            num = float(re.match(r'[\d.]+', v).group(0)) * {'bytes': 1, 'kB': 1e3, 'MB': 1e6, 'GB': 1e9}.get(v.split()[-1], 1)
            events.append((cur['startTime'], num))
        cur = {}
frames = f1 - f0
if len(events) < 2:
    print("not enough samples of the loop thread"); sys.exit(1)
# samples are once a second; use the span that covers the transfer
first, last = events[0][1], events[-1][1]
print("frames moved during the transfer: %d" % frames)
print("loop thread allocated over the whole run: %.0f bytes (first sample %.0f, last %.0f)" % (last - first, first, last))
print("upper bound per frame (whole-run allocation / transfer frames): %.4f bytes" % ((last - first) / max(frames, 1)))
out = subprocess.run(['jfr', 'print', '--events', 'jdk.ObjectAllocationSample', '--stack-depth', '3', rec], capture_output=True, text=True).stdout
sites = {}
for block in out.split('jdk.ObjectAllocationSample')[1:]:
    if 'penne-loop-default' not in block: continue
    cls = re.search(r'objectClass = (\S+)', block); st = re.search(r'stackTrace = \[\s*\n\s*(.*)', block)
    key = (cls.group(1) if cls else '?') + ' at ' + (st.group(1).strip() if st else '?')
    sites[key] = sites.get(key, 0) + 1
print("JFR allocation samples on the loop thread: %d" % sum(sites.values()))
for k, v in sorted(sites.items(), key=lambda x: -x[1])[:8]:
    print("  %5d  %s" % (v, k))
PY
