# TCP RR/CRR tester for bench/tcp.sh and bench/splice.sh.
# python3 tcp_rr.py server HOST PORT 0   - echo server, a thread per connection
# python3 tcp_rr.py rr|crr HOST PORT SECS - prints transactions per second
#   rr: 1-byte request/response on one connection; crr: connect + rr + close.
import socket, sys, time, threading
mode, host, port, dur = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
if mode == "server":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(512)
    def serve(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            b = c.recv(1)
            if not b: break
            c.sendall(b)
        c.close()
    while True:
        c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
n = 0; end = time.time() + dur
if mode == "rr":
    c = socket.create_connection((host, port)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while time.time() < end:
        c.sendall(b"x"); c.recv(1); n += 1
else:
    while time.time() < end:
        c = socket.create_connection((host, port)); c.sendall(b"x"); c.recv(1); c.close(); n += 1
print(int(n / dur))
