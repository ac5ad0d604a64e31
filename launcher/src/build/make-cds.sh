#!/bin/sh
# Builds lib/penne.jsa, an AppCDS archive of the classes penne loads up to
# "ready", by running the freshly assembled distribution once: start with
# -XX:ArchiveClassesAtExit, wait until the control socket answers, run a
# command, stop. bin/penne uses the archive when it matches (same JDK, same
# paths); when it does not, the JVM silently runs without it. A failure here
# never fails the build: penne works without the archive, only slower.
dist=$1
jsa=$dist/lib/penne.jsa
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$jsa"
PENNE_JAVA_OPTS="-XX:ArchiveClassesAtExit=$jsa -Xlog:cds=off -Xlog:cds+dynamic=off" \
    "$dist/bin/penne" -q -c "$work/s" -- sleep 600 > "$work/log" 2>&1 &
pid=$!
i=0
until [ -S "$work/s" ] || [ $i -ge 600 ]; do sleep 0.05; i=$((i + 1)); done
"$dist/bin/penne-ctl" "$work/s" penne:stats > /dev/null 2>&1
"$dist/bin/penne-ctl" "$work/s" stop 0 > /dev/null 2>&1 || kill "$pid"
wait "$pid"
if [ -s "$jsa" ]; then
    echo "make-cds: $(du -k "$jsa" | cut -f1) KiB class data archive at $jsa"
else
    echo "make-cds: no class data archive made (penne runs without it); log:"
    cat "$work/log"
fi
exit 0
