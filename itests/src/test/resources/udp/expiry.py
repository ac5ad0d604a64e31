# Flow expiry as penne:flows shows it: a UDP flow without replies (30 s), a UDP
# flow with replies (120 s), an ICMP echo flow (60 s).
import os, socket, struct, subprocess, time

GW4, ECHO = os.environ['GW4'], int(os.environ['ECHO'])

def flows(tag):
    out = subprocess.run([os.environ['PENNE_CTL'], os.environ['CTL'], 'penne:flows'], capture_output=True,
                         text=True).stdout
    for line in out.splitlines()[1:]:
        print(tag, line, flush=True)
    print(tag, 'end', flush=True)

quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
quiet.sendto(b'nobody answers', (GW4, ECHO + 98))
talk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
talk.settimeout(3)
talk.sendto(b'hello', (GW4, ECHO))
talk.recv(100)
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
pkt = struct.pack('!BBHHH', 8, 0, 0, 0x7777, 1) + b'expiry'
s = sum(struct.unpack('!7H', pkt)) ; s = (s >> 16) + (s & 0xffff); s += s >> 16
r.sendto(pkt[:2] + struct.pack('!H', ~s & 0xffff) + pkt[4:], (GW4, 0))
time.sleep(1)
start = time.time()
flows('t0')
time.sleep(36 - (time.time() - start))
flows('t36')
time.sleep(66 - (time.time() - start))
flows('t66')
