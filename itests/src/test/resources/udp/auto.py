# Namespace side of NamespaceUdpIT.autoForwardingFollowsBoundPorts, run with
# penne's defaults (-u auto, -U auto). argv: AUTO port, DONE file.
# 1. -U auto: the host's echo on its loopback (port ECHO) answers on the
#    namespace's loopback, IPv4 and IPv6.
# 2. -u auto: binds AUTO here (IPv4 and IPv6), prints BOUND, and echoes what
#    the host sends until a datagram "quit"; then closes both sockets, prints
#    CLOSED, and waits for the DONE file.
import os, select, socket, sys, time

ECHO = int(os.environ['ECHO'])
AUTO, DONE = int(sys.argv[1]), sys.argv[2]

def echo_through_loopback(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        for _ in range(30):  # penne notices the host's port within a second
            s.sendto(b'hello', (addr, ECHO))
            try:
                data, _ = s.recvfrom(100)
                return 'OK' if data == b'hello' else 'BAD %r' % data
            except (socket.timeout, ConnectionRefusedError):
                time.sleep(0.2)
        return 'TIMEOUT'
    finally:
        s.close()

print('U.4', echo_through_loopback(socket.AF_INET, '127.0.0.1'), flush=True)
print('U.6', echo_through_loopback(socket.AF_INET6, '::1'), flush=True)

s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4.bind(('0.0.0.0', AUTO))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s6.bind(('::', AUTO))
print('BOUND', flush=True)
served, deadline = 0, time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([s4, s6], [], [], 1)
    quit_ = False
    for s in ready:
        data, peer = s.recvfrom(100)
        if data == b'quit':
            quit_ = True
        else:
            s.sendto(data, peer)
            served += 1
    if quit_:
        break
s4.close()
s6.close()
print('SERVED', served, flush=True)
print('CLOSED', flush=True)
while not os.path.exists(DONE) and time.time() < deadline + 30:
    time.sleep(0.1)
