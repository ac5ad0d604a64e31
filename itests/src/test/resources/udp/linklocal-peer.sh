#!/usr/bin/env bash
# NamespaceUdpIT.repliesReachALinkLocalPeerThroughTheRightInterface: PENNE runs in namespace H,
# whose upstream is a veth to namespace Q; H has two more interfaces (a veth pair of its own) whose
# fe80::/64 routes come first. A peer in Q sends from its link-local address to -u 7400 on H's
# link-local address; the guest echoes; the reply must leave through the upstream veth to reach Q.
# Prints "peer got ..." or "peer got nothing".
PENNE=$1; H=pennellh$$; Q=pennellq$$
trap 'ip netns del $H 2>/dev/null; ip netns del $Q 2>/dev/null' EXIT
ip netns add $H && ip netns add $Q || exit 1
for n in $H $Q; do ip netns exec $n sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; done
ip -n $H link add vx type veth peer name vy && ip -n $H link set vx up && ip -n $H link set vy up
ip link add vh netns $H type veth peer name vp netns $Q || exit 1
ip -n $H link set lo up; ip -n $Q link set lo up; ip -n $H link set vh up; ip -n $Q link set vp up
ip -n $H addr add fd10::1/64 dev vh; ip -n $Q addr add fd10::2/64 dev vp
ip -n $H addr add 10.10.0.1/24 dev vh; ip -n $Q addr add 10.10.0.2/24 dev vp
ip -n $H route add default via 10.10.0.2; ip -n $H -6 route add default via fd10::2
for i in $(seq 50); do
    llh=$(ip -n $H -6 -o addr show dev vh scope link | awk '{print $4}' | cut -d/ -f1)
    llq=$(ip -n $Q -6 -o addr show dev vp scope link | awk '{print $4}' | cut -d/ -f1)
    [ -n "$llh" ] && [ -n "$llq" ] && break
    sleep 0.1
done
ip netns exec $H "$PENNE" -u 7400 -- python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind(("::", 7400)); s.settimeout(20)
print("ready", flush=True)
d, a = s.recvfrom(100); s.sendto(b"pong", a)
time.sleep(1)' > /tmp/$H.out 2>&1 &
for i in $(seq 100); do grep -q ready /tmp/$H.out && break; sleep 0.1; done
ip netns exec $Q python3 -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(3)
vp = socket.if_nametoindex('vp')
s.bind(('$llq', 0, 0, vp))
s.sendto(b'ping', ('$llh', 7400, 0, vp))
try:
    d, a = s.recvfrom(100); print('peer got', d.decode(), 'from', a[0])
except socket.timeout:
    print('peer got nothing')
"
wait
cat /tmp/$H.out >&2; rm -f /tmp/$H.out
