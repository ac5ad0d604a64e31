# Shared by bench/tcp.sh, udp.sh and splice.sh (sourced): where penne is, the
# peers' prerequisites (iperf3 and Debian's pasta, installed with apt if missing,
# and python3), and inns, which runs a client command in a translator's namespace.
root=$(cd "$(dirname "$0")/.." && pwd)
PENNE=$root/launcher/target/penne/bin/penne
[ -x "$PENNE" ] || { echo "build first: mvn -DskipTests package" >&2; exit 1; }
command -v iperf3 >/dev/null && command -v pasta >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 passt >/dev/null; }
command -v python3 >/dev/null || { echo "python3 needed for RR/CRR" >&2; exit 1; }

# inns NAME MTU CMD...: runs the client command in the translator's namespace, prints its stdout
inns() {
    local name=$1 mtu=$2; shift 2
    local mopt=(); [ "$mtu" != 65520 ] && mopt=(-m "$mtu")
    if [ "$name" = pasta ]; then
        pasta --runas 0 --config-net -t none -T none -u none -U none "${mopt[@]}" -- sh -c "$*"
    else
        "$PENNE" -t none -T none -u none -U none "${mopt[@]}" -- sh -c "$*"
    fi
}
