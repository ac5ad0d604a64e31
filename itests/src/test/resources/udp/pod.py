# Inside a namespace penne serves with podman's command line: --map-guest-addr reaches the
# host's own address over UDP and TCP (answers come back from the mapped address), and
# --no-map-gw leaves the gateway alone.
import socket, sys
MAPPED, GW, UPORT, TPORT = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
u.sendto(b'hello', (MAPPED, UPORT))
d, peer = u.recvfrom(100)
print('udp', d.decode(), 'from', peer[0], flush=True)
t = socket.create_connection((MAPPED, TPORT), timeout=3)
print('tcp', t.recv(100).decode(), flush=True)
g = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
g.settimeout(1)
g.sendto(b'hello', (GW, UPORT))
try:
    g.recvfrom(100)
    print('gateway mapped', flush=True)
except socket.timeout:
    print('gateway not mapped', flush=True)
