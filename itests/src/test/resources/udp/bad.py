# Malformed and unexpected frames from the namespace, written straight to its tap
# device (AF_PACKET), then a good datagram: penne must drop and count the bad ones
# and still answer. Prints penne:stats at the end.
import os, socket, struct, subprocess, sys, time

GW4, GW6, ADDR4, ADDR6 = os.environ['GW4'], os.environ['GW6'], os.environ['ADDR4'], os.environ['ADDR6']
IF = os.environ['IFNAME']
ECHO = int(os.environ['ECHO'])
PENNE_MAC = bytes.fromhex('9a559a559a55')

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
p.bind((IF, 0))
mac = p.getsockname()[4]

def ip4(proto, payload, total=None):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, total if total is not None else 20 + len(payload), 0, 0x4000, 64,
                    proto, 0, socket.inet_aton(ADDR4), socket.inet_aton(GW4))
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return PENNE_MAC + mac + b'\x08\x00' + h + payload

def ip6(nh, payload):
    h = struct.pack('!IHBB16s16s', 0x60000000, len(payload), nh, 64, socket.inet_pton(socket.AF_INET6, ADDR6),
                    socket.inet_pton(socket.AF_INET6, GW6))
    return PENNE_MAC + mac + b'\x86\xdd' + h + payload

frames = [
    ip4(17, b'\x12\x34\x1b\x58'),                                          # UDP header cut short
    ip4(17, struct.pack('!HHHH', 4000, ECHO, 200, 0) + b'short'),          # UDP length says 200, has 13
    ip4(17, struct.pack('!HHHH', 4000, ECHO, 4, 0)),                       # UDP length below the header
    ip4(17, struct.pack('!HHHH', 0, ECHO, 13, 0) + b'zero!'),              # source port 0
    ip4(17, struct.pack('!HHHH', 4000, ECHO, 13, 0) + b'hello', total=60), # IP total length past the frame
    ip4(1, b'\x08\x00\x00\x00'),                                           # ICMP cut short
    ip4(1, struct.pack('!BBHHH', 13, 0, 0, 1, 1) + b'\0' * 12),            # ICMP timestamp request
    ip4(1, struct.pack('!BBHHH', 0, 0, 0, 1, 1) + b'reply'),               # ICMP echo reply from the guest
    ip6(58, struct.pack('!BBH', 128, 0, 0) + b'\0\1'),                     # echo request without identifier
    ip6(58, struct.pack('!BBHI', 1, 4, 0, 0) + b'\0' * 48),                # ICMPv6 destination unreachable
    ip6(17, b'\x12\x34'),                                                  # IPv6 UDP header cut short
    ip6(17, struct.pack('!HHHH', 4000, ECHO, 99, 0) + b'abc'),             # IPv6 UDP length lies
]
for f in frames:
    p.send(f)
time.sleep(0.5)
for fam, gw in ((socket.AF_INET, GW4), (socket.AF_INET6, GW6)):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((gw, ECHO))
    s.send(b'still there?')
    try:
        print('echo', fam == socket.AF_INET and 4 or 6, s.recv(100).decode(), flush=True)
    except OSError as e:
        print('echo', fam == socket.AF_INET and 4 or 6, type(e).__name__, flush=True)
print(subprocess.run([os.environ['PENNE_CTL'], os.environ['CTL'], 'penne:stats'], capture_output=True,
                     text=True).stdout, flush=True)
