# Namespace side of NamespaceUdpIT.datagramTrainsKeepEveryBoundary: the host sends bursts of
# datagrams of mixed sizes (host.py's train_sizes) to the guest over the tap, (a) on a flow this
# side opened (to the gateway): "TRAIN" answered from the host's echo socket; (b) through the -u
# port FWD, to this side's copy of the host's address: "CMD TRAINTO". Every datagram must arrive
# whole and alone, in order; the tap queue may drop some under a burst. Prints "train.V R/S",
# "train.in.V R/S" (received/sent) or "... BAD ...", then penne:stats.
import os, socket, subprocess

GW = {'4': os.environ['GW4'], '6': os.environ['GW6']}
ADDR = {'4': os.environ['ADDR4'], '6': os.environ['ADDR6']}
ANY = {'4': '0.0.0.0', '6': '::'}
FAM = {'4': socket.AF_INET, '6': socket.AF_INET6}
ECHO, FWD = int(os.environ['ECHO']), int(os.environ['FWD'])

def train_sizes():
    return [1472] * 150 + [700] + [1472] * 60 + [1, 0, 5] + [300] * 90 + [299] + [65000] + [1472] * 45 + [1471]

def train_datagram(i, size):
    return (b'%08d' % i * (size // 8 + 1))[:size]

expected = [train_datagram(i, n) for i, n in enumerate(train_sizes())]

def check(got):
    j = 0  # each datagram received must be the next expected one, or a later one (losses)
    for k, d in enumerate(got):
        while j < len(expected) and expected[j] != d:
            j += 1
        if j == len(expected):
            return 'BAD datagram %d of %d bytes matches none left: %r' % (k, len(d), d[:24])
        j += 1
    return '%d/%d' % (len(got), len(expected))

def sock(v):
    s = socket.socket(FAM[v], socket.SOCK_DGRAM)
    for opt in (33, 32):  # SO_RCVBUFFORCE, SO_SNDBUFFORCE
        s.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)
    if v == '6':
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.settimeout(2)
    return s

def receive_all(s):
    got = []
    while True:
        try:
            got.append(s.recv(70000))
        except socket.timeout:
            return got

for v in ('4', '6'):
    s = sock(v)
    s.connect((GW[v], ECHO))
    s.send(b'TRAIN')
    print('train.%s %s' % (v, check(receive_all(s))), flush=True)
    s.close()

    s = sock(v)
    s.bind((ANY[v], FWD))
    c = sock(v)
    for attempt in range(3):  # the command travels the tap too; it is not repeated once answered
        c.sendto(('CMD ID %d TRAINTO %s %s %d' % (os.getpid() * 10 + int(v), v, ADDR[v], FWD)).encode(), (GW[v], ECHO))
        try:
            c.recv(100)
            break
        except socket.timeout:
            continue
    print('train.in.%s %s' % (v, check(receive_all(s))), flush=True)
    s.close()
    c.close()

print(subprocess.run([os.environ['PENNE_CTL'], os.environ['CTL'], 'penne:stats'], capture_output=True,
                     text=True).stdout, flush=True)
