# Namespace side of NamespaceUdpIT.datagramTrainsKeepEveryBoundary: on a flow this side opened
# (tap path, to the gateway), the host answers "TRAIN" with a burst of datagrams of mixed sizes
# (host.py's train_sizes). Every datagram must arrive whole and alone, in order; the tap queue
# may drop some under the burst. Prints "train.V RECEIVED/SENT" or "train.V BAD ...", then
# penne:stats.
import os, socket, subprocess

GW = {'4': os.environ['GW4'], '6': os.environ['GW6']}
FAM = {'4': socket.AF_INET, '6': socket.AF_INET6}
ECHO = int(os.environ['ECHO'])

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

for v in ('4', '6'):
    s = socket.socket(FAM[v], socket.SOCK_DGRAM)
    for opt in (33, 32):  # SO_RCVBUFFORCE, SO_SNDBUFFORCE
        s.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)
    s.connect((GW[v], ECHO))
    s.settimeout(2)
    s.send(b'TRAIN')
    got = []
    while True:
        try:
            got.append(s.recv(70000))
        except socket.timeout:
            break
    s.close()
    print('train.%s %s' % (v, check(got)), flush=True)

print(subprocess.run([os.environ['PENNE_CTL'], os.environ['CTL'], 'penne:stats'], capture_output=True,
                     text=True).stdout, flush=True)
