# Namespace side of NamespaceUdpIT: every path from inside penne's namespace, one
# result line each ("KEY VALUE"). GW4/GW6: the gateway (the host); ECHO: the host's
# echo/command port; FWD: the -u port served here; NSFWD: the -U port.
import os, socket, struct, subprocess, sys, threading, time

GW4, GW6 = os.environ['GW4'], os.environ['GW6']
ECHO, FWD, NSFWD = int(os.environ['ECHO']), int(os.environ['FWD']), int(os.environ['NSFWD'])
ADDR4, ADDR6 = os.environ['ADDR4'], os.environ['ADDR6']
FAM = {'4': socket.AF_INET, '6': socket.AF_INET6}
GW = {'4': GW4, '6': GW6}
LO = {'4': '127.0.0.1', '6': '::1'}
ADDR = {'4': ADDR4, '6': ADDR6}
count = {'n': 0}
lock = threading.Lock()

def out(k, v):
    print(k, v, flush=True)

def big_buffers(s):
    for opt in (33, 32):
        s.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)

def serve(family, addr):  # the -u target here: echo, and count bursts
    s = socket.socket(family, socket.SOCK_DGRAM)
    big_buffers(s)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, FWD))
    while True:
        d, peer = s.recvfrom(70000)
        if d[:1] == b'B':
            with lock:
                count['n'] += 1
        else:
            s.sendto(d, peer)

for f, a in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
    threading.Thread(target=serve, args=(f, a), daemon=True).start()

ids = iter(range(os.getpid() * 100000, 1 << 62))  # unique across runs against one host helper

def once(v, text):
    return cmd(v, 'ID %d %s' % (next(ids), text))

def cmd(v, text):
    # Commands travel the tap path too, where a burst just before may have filled the tap queue:
    # repeat until answered (COUNT and RESET are idempotent; SEND and RT are not repeated once answered).
    s = socket.socket(FAM[v], socket.SOCK_DGRAM)
    s.settimeout(3)
    try:
        for attempt in range(5):
            s.sendto(('CMD ' + text).encode(), (GW[v], ECHO))
            try:
                return s.recv(100).decode()
            except socket.timeout:
                continue
        raise TimeoutError('no answer to ' + text)
    finally:
        s.close()

def roundtrip(v, addr, port, size):
    # UDP may lose a datagram: up to three tries, each counted; a lost try is reported on stderr.
    for attempt in range(3):
        s = socket.socket(FAM[v], socket.SOCK_DGRAM)
        s.settimeout(3)
        s.connect((addr, port))
        data = os.urandom(size)
        s.send(data)
        try:
            return 'OK' if s.recv(70000) == data else 'BAD'
        except socket.timeout:
            print('lost: %s %s:%d %d bytes, try %d' % (v, addr, port, size, attempt + 1), file=sys.stderr, flush=True)
            continue
        except OSError as e:
            return type(e).__name__
        finally:
            s.close()
    return 'TimeoutError'


def burst_out(v, addr, port, n=1000):
    cmd(v, 'RESET')
    s = socket.socket(FAM[v], socket.SOCK_DGRAM)
    big_buffers(s)
    s.connect((addr, port))
    for i in range(n):
        s.send(b'B' + i.to_bytes(4, 'big') + b'x' * 59)
    s.close()
    time.sleep(0.5)
    return int(cmd(v, 'COUNT').split()[1])

def local_count():
    time.sleep(0.5)
    with lock:
        n, count['n'] = count['n'], 0
    return n

def round_trip_from_host(v, addr, size):
    # One datagram from the host and its echo. UDP may lose one (a clean-clone CI run on
    # 2026-11-22 lost the first tap.in.4 datagram once; not reproduced in 7 runs since, idle or
    # loaded): up to three tries, each a new command, and a "retried" line says so; the bursts
    # measure loss properly.
    for attempt in (1, 2, 3):
        r = once(v, 'RT %s %s %d %d' % (v, addr, FWD, size)).split()[1]
        if r == 'OK' or attempt == 3:
            if attempt > 1:
                out('retried', '%s %s %d after %d tries: %s' % (v, addr, size, attempt, r))
            return r

time.sleep(0.2)
for v in ('4', '6'):
    # Tap path, namespace to host: the gateway stands for the host.
    out('tap.out.%s.single' % v, roundtrip(v, GW[v], ECHO, 5))
    out('tap.out.%s.60k' % v, roundtrip(v, GW[v], ECHO, 60 * 1024))
    out('tap.out.%s.burst' % v, burst_out(v, GW[v], ECHO))
    # ICMP port unreachable from the host, relayed as ICMP to the guest.
    out('tap.out.%s.closed' % v, roundtrip(v, GW[v], ECHO + 99, 5))
    # Loopback path, namespace to host (-U): the namespace's loopback reaches the host's.
    out('lo.out.%s.single' % v, roundtrip(v, LO[v], NSFWD, 5))
    out('lo.out.%s.60k' % v, roundtrip(v, LO[v], NSFWD, 60 * 1024))
    out('lo.out.%s.burst' % v, burst_out(v, LO[v], NSFWD))
    # Host to namespace (-u): to the host's own address (tap path), and to its loopback (loopback path).
    for path, addr in (('tap', ADDR[v]), ('lo', LO[v])):
        out('%s.in.%s.single' % (path, v), round_trip_from_host(v, addr, 5))
        out('%s.in.%s.60k' % (path, v), round_trip_from_host(v, addr, 60 * 1024))
        local_count()
        once(v, 'SEND %s %s %d 1000 64' % (v, addr, FWD))
        out('%s.in.%s.burst' % (path, v), local_count())

# DNS through --dns-forward: UDP and TCP, answered from the forward address.
def dns_query(qtype):
    name = b''.join(bytes([len(p)]) + p for p in b'example.test'.split(b'.')) + b'\0'
    return struct.pack('!HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0) + name + struct.pack('!HH', qtype, 1)

for v, server, qtype in (('4', os.environ['DNS4'], 1), ('6', os.environ['DNS6'], 28)):
    s = socket.socket(FAM[v], socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(dns_query(qtype), (server, 53))
    try:
        a, peer = s.recvfrom(512)
        ip = socket.inet_ntop(FAM[v], a[-(4 if v == '4' else 16):])
        out('dns.udp.%s' % v, '%s from %s' % (ip, peer[0]))
    except OSError as e:
        out('dns.udp.%s' % v, type(e).__name__)
    t = socket.socket(FAM[v], socket.SOCK_STREAM)
    t.settimeout(3)
    try:
        t.connect((server, 53))
        q = dns_query(qtype)
        t.sendall(struct.pack('!H', len(q)) + q)
        n = struct.unpack('!H', t.recv(2))[0]
        a = b''
        while len(a) < n:
            a += t.recv(n - len(a))
        out('dns.tcp.%s' % v, socket.inet_ntop(FAM[v], a[-(4 if v == '4' else 16):]))
    except OSError as e:
        out('dns.tcp.%s' % v, type(e).__name__)

# ping and ping -6 to the gateway (the host), through raw sockets: root in the namespace.
def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

for v in ('4', '6'):
    proto = socket.IPPROTO_ICMP if v == '4' else socket.IPPROTO_ICMPV6
    r = socket.socket(FAM[v], socket.SOCK_RAW, proto)
    r.settimeout(2)
    ident, replies = 0x5151, 0
    for seq in range(3):
        pkt = struct.pack('!BBHHH', 8 if v == '4' else 128, 0, 0, ident, seq) + b'penne-ping' * 5
        if v == '4':
            pkt = pkt[:2] + struct.pack('!H', csum(pkt)) + pkt[4:]
        r.sendto(pkt, (GW[v], 0))
        deadline = time.time() + 2
        while time.time() < deadline:
            try:
                d = r.recv(2000)
            except socket.timeout:
                break
            icmp = d[20:] if v == '4' else d
            if icmp[0] == (0 if v == '4' else 129) and struct.unpack('!HH', icmp[4:8]) == (ident, seq) \
                    and icmp[8:] == b'penne-ping' * 5 and (v == '6' or csum(icmp) == 0):
                replies += 1
                break
    out('ping.%s' % v, replies)

ctl = os.environ['CTL']
flows = subprocess.run([os.environ['PENNE_CTL'], ctl, 'penne:flows'], capture_output=True, text=True).stdout
for line in flows.splitlines():
    out('flow', line)
