# Host side of NamespaceUdpIT: UDP echo and command server on the host's loopback
# (127.0.0.1 and ::1, port ECHO), a DNS responder on 127.0.0.53:53 and [::1]:53
# (UDP and TCP). Commands arrive as datagrams starting with "CMD ".
import os, socket, struct, sys, threading, time

ECHO = int(sys.argv[1])
count = {'n': 0}
lock = threading.Lock()

def big_buffers(s):
    for opt in (33, 32):  # SO_RCVBUFFORCE, SO_SNDBUFFORCE
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)
        except OSError:
            pass

def fam(name):
    return socket.AF_INET if name == '4' else socket.AF_INET6

answered = {}

def command(words):
    # "ID <n> ..." commands are done once: a repeat (its answer was lost) gets the same answer.
    if words[0] == 'ID':
        if words[1] not in answered:
            answered[words[1]] = command(words[2:])
        return answered[words[1]]
    if words[0] == 'COUNT':  # idempotent, so that a lost command can be repeated
        with lock:
            return 'COUNT %d' % count['n']
    if words[0] == 'RESET':
        with lock:
            count['n'] = 0
        return 'RESET'
    if words[0] == 'SEND':  # SEND fam addr port n size: a burst from the host
        s = socket.socket(fam(words[1]), socket.SOCK_DGRAM)
        big_buffers(s)
        n, size = int(words[4]), int(words[5])
        for i in range(n):
            s.sendto(b'B' + i.to_bytes(4, 'big') + b'x' * (size - 5), (words[2], int(words[3])))
        s.close()
        return 'SENT %d' % n
    if words[0] == 'TRAINTO':  # TRAINTO fam addr port: train_sizes' burst from a socket of its own
        s = socket.socket(fam(words[1]), socket.SOCK_DGRAM)
        big_buffers(s)
        for i, size in enumerate(train_sizes()):
            s.sendto(train_datagram(i, size), (words[2], int(words[3])))
        s.close()
        return 'SENT'
    if words[0] == 'RT':  # RT fam addr port size: one datagram from the host, echoed back
        s = socket.socket(fam(words[1]), socket.SOCK_DGRAM)
        s.settimeout(3)
        data = os.urandom(int(words[4]))
        s.sendto(data, (words[2], int(words[3])))
        try:
            back, peer = s.recvfrom(70000)
            return 'RT %s' % ('OK' if back == data else 'BAD')
        except socket.timeout:
            return 'RT TIMEOUT'
        finally:
            s.close()
    return 'ERR'

def train_sizes():
    # Runs of one size with shorter ones between them, an empty datagram, one at full size:
    # datagram trains to the guest must keep every boundary (train.py has the same list).
    return [1472] * 150 + [700] + [1472] * 60 + [1, 0, 5] + [300] * 90 + [299] + [65000] + [1472] * 45 + [1471]

def train_datagram(i, size):
    return (b'%08d' % i * (size // 8 + 1))[:size]

def echo(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM)
    big_buffers(s)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, ECHO))
    while True:
        d, peer = s.recvfrom(70000)
        if d[:1] == b'B':
            with lock:
                count['n'] += 1
        elif d == b'TRAIN':  # a burst back to this peer, on this socket: train.py's pattern
            for i, size in enumerate(train_sizes()):
                s.sendto(train_datagram(i, size), peer)
        elif d[:4] == b'CMD ':
            s.sendto(command(d[4:].decode().split()).encode(), peer)
        else:
            s.sendto(d, peer)

def dns_answer(q):
    # Echo the question, one A record 10.9.8.7 (or AAAA fd00::9:8:7 for type 28).
    qid, flags, qd = struct.unpack('!HHH', q[:6])
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    qtype = struct.unpack('!H', q[end + 1:end + 3])[0]
    question = q[12:end + 5]
    rdata = socket.inet_pton(socket.AF_INET6, 'fd00::9:8:7') if qtype == 28 else socket.inet_aton('10.9.8.7')
    answer = b'\xc0\x0c' + struct.pack('!HHIH', 28 if qtype == 28 else 1, 1, 60, len(rdata)) + rdata
    return struct.pack('!HHHHHH', qid, 0x8180, 1, 1, 0, 0) + question + answer

def dns_udp(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        q, peer = s.recvfrom(512)
        s.sendto(dns_answer(q), peer)

def dns_tcp(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 53))
    s.listen(8)
    while True:
        c, _ = s.accept()
        with c:
            n = struct.unpack('!H', c.recv(2))[0]
            q = b''
            while len(q) < n:
                q += c.recv(n - len(q))
            a = dns_answer(q)
            c.sendall(struct.pack('!H', len(a)) + a)

for target, args in ((echo, (socket.AF_INET, '127.0.0.1')), (echo, (socket.AF_INET6, '::1')),
                     (dns_udp, (socket.AF_INET, '127.0.0.53')), (dns_udp, (socket.AF_INET6, '::1')),
                     (dns_tcp, (socket.AF_INET, '127.0.0.53')), (dns_tcp, (socket.AF_INET6, '::1'))):
    threading.Thread(target=target, args=args, daemon=True).start()
time.sleep(0.3)
print('READY', flush=True)
threading.Event().wait()
