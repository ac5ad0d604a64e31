"""A TCP peer speaking raw frames on the namespace's tap, for tests of penne's
timers: it answers only when told to, so penne's retransmissions, window
probes and keepalives can be watched and timed.

Its address is not one of the namespace's (the kernel there drops penne's
frames to it instead of answering them with resets); penne treats it as the
guest.  Usage: rawguest.py IFNAME GW4 PORT MODE.  Prints one line per
segment from penne: "seg T FLAGS SEQ ACK LEN WIN" (T seconds since the first
SYN, ACK, or since the SYN for mode synack), then "end ...".
"""
import socket, struct, sys, time, select

ifname, gw, port, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ME, SPORT = '10.99.0.2', 40000 + (int(time.time() * 1000) % 20000)
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
raw.bind((ifname, 0x0800))
GWMAC, MYMAC = bytes.fromhex('9a559a559a55'), raw.getsockname()[4]
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

def send(flags, seq, ack, win=65535, payload=b'', opts=b''):
    tcp = struct.pack('!HHIIBBHHH', SPORT, port, seq & 0xffffffff, ack & 0xffffffff, (5 + len(opts) // 4) << 4, flags,
                      win, 0, 0) + opts + payload
    pseudo = socket.inet_aton(ME) + socket.inet_aton(gw) + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, socket.inet_aton(ME), socket.inet_aton(gw))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    raw.send(GWMAC + MYMAC + b'\x08\x00' + ip + tcp)

T0 = time.time()

def recv(timeout):
    """The next segment from penne to us within timeout seconds, or None."""
    end = time.time() + timeout
    while True:
        left = end - time.time()
        if left <= 0 or not select.select([raw], [], [], left)[0]:
            return None
        f = raw.recv(70000)
        if len(f) < 54 or f[12:14] != b'\x08\x00' or f[23] != 6 or f[30:34] != socket.inet_aton(ME):
            continue
        ihl = (f[14] & 15) * 4
        t = f[14 + ihl:]
        sp, dp, seq, ack, off, flags, win = struct.unpack('!HHIIBBH', t[:16])
        if dp != SPORT:
            continue
        data = t[(off >> 4) * 4:]
        data = data[:struct.unpack('!H', f[16:18])[0] - ihl - (off >> 4) * 4]
        s = (time.time() - T0, flags, seq, ack, len(data), win)
        print('seg %.3f %d %d %d %d %d' % s, flush=True)
        return s + (data,)

def watch(seconds, answer=None):
    """Records segments for a while; answer(seg) may reply."""
    end = time.time() + seconds
    segs = []
    while time.time() < end:
        s = recv(end - time.time())
        if s is None:
            break
        segs.append(s)
        if answer:
            answer(s)
        if s[1] & RST:
            break
    return segs

ISN = 1000
send(SYN, ISN, 0, opts=struct.pack('!BBH', 2, 4, 1460))  # MSS 1460, no window scaling
if mode == 'synack':  # never complete the handshake: SYN, ACK retransmissions, then a reset
    segs = watch(40)
    print('end', flush=True)
    sys.exit(0)
sa = recv(5)
assert sa and sa[1] & (SYN | ACK) == SYN | ACK, 'no SYN, ACK'
theirs = sa[2] + 1
mine = ISN + 1
if mode == 'data':  # take the data, never acknowledge it for a while, then do
    send(ACK, mine, theirs)
    T0 = time.time()
    segs = watch(9)
    top = max(s[2] + s[4] for s in segs)
    send(ACK, mine, top)
    print('acked', top - theirs, flush=True)
    watch(2.5)
elif mode == 'zerowin':  # a zero window: penne must probe it
    send(ACK, mine, theirs, win=0)
    T0 = time.time()
    probe = recv(4)
    assert probe and probe[4] == 1, 'expected a one-byte probe, got %r' % (probe,)
    got = probe[6]
    send(ACK, mine, theirs + 1, win=65535)
    while True:
        s = recv(2)
        if s is None:
            break
        if s[4] and s[2] == theirs + len(got):
            got += s[6]
            send(ACK, mine, theirs + len(got), win=65535)
    print('received', len(got), flush=True)
elif mode == 'keepalive':  # stay idle: keepalives must come, and be answered
    send(ACK, mine, theirs)
    T0 = time.time()
    def answer(s):
        if s[4] == 0 and s[2] == (theirs - 1) & 0xffffffff:
            send(ACK, mine, theirs)
    segs = watch(7, answer)
    send(ACK, mine - 1, theirs)  # our own keepalive: penne must answer it at once
    t = time.time()
    s = recv(2)
    print('answered %.3f' % (time.time() - t) if s and s[1] & ACK and not s[1] & RST else 'unanswered', flush=True)
elif mode == 'inactive':  # stay idle and mute: the connection must be reset
    send(ACK, mine, theirs)
    T0 = time.time()
    watch(12)
send(RST, mine, 0)
print('end', flush=True)
