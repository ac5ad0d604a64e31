package io.penne.tcp.splice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.penne.api.Counters;
import io.penne.api.EventLoop;
import io.penne.api.flow.SpliceConn;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SpliceUnitTest {
    @Test
    void epollEventsFollowTheConnectionState() {
        // connecting: only side 1, for EPOLLOUT
        assertEquals(0, SpliceHandler.epollEvents(SpliceConn.CONNECT, 0));
        assertEquals(EventLoop.EPOLLOUT, SpliceHandler.epollEvents(SpliceConn.CONNECT, 1));
        int est = SpliceConn.CONNECT | SpliceConn.ESTABLISHED;
        int in = EventLoop.EPOLLIN | EventLoop.EPOLLRDHUP;
        assertEquals(in, SpliceHandler.epollEvents(est, 0));
        assertEquals(in, SpliceHandler.epollEvents(est, 1));
        // bytes for side 1 wait in pipe 0: side 1 wants EPOLLOUT, side 0 is not read (nor its FIN watched)
        assertEquals(0, SpliceHandler.epollEvents(est | SpliceConn.OUT_WAIT_1, 0));
        assertEquals(in | EventLoop.EPOLLOUT, SpliceHandler.epollEvents(est | SpliceConn.OUT_WAIT_1, 1));
        // FIN passed on to side 1: side 0 is finished, no more reading it
        assertEquals(0, SpliceHandler.epollEvents(est | SpliceConn.FIN_RCVD_0 | SpliceConn.FIN_SENT_1, 0));
        assertEquals(in, SpliceHandler.epollEvents(est | SpliceConn.FIN_RCVD_0 | SpliceConn.FIN_SENT_1, 1));
    }

    @Test
    void pipeSizeIsProbedAndPoolsWithoutNamespaceHaveNoSockets() {
        int size = Pools.pipeSize();
        assertTrue(size >= 4096 && size <= Pools.MAX_PIPE_SIZE && Integer.bitCount(size) == 1, "size " + size);
        Map<String, Long> values = new LinkedHashMap<>();
        Counters counters = new Counters() {
            final java.util.List<String> names = new java.util.ArrayList<>();

            @Override
            public int register(String name) {
                names.add(name);
                values.put(name, 0L);
                return names.size() - 1;
            }

            @Override
            public void add(int id, long delta) {
                values.merge(names.get(id), delta, Long::sum);
            }

            @Override
            public long get(int id) {
                return values.get(names.get(id));
            }

            @Override
            public Map<String, Long> snapshot() {
                return values;
            }
        };
        Pools p = new Pools(null, true, true, counters);
        p.refill();
        p.publish();
        assertEquals(Pools.SIZE, p.pipes());
        assertEquals(Pools.SIZE, values.get("splice.pool.pipes"));
        int[] r = {-1, -1}, w = {-1, -1};
        assertTrue(p.takePipe(r, w, 0) && p.takePipe(r, w, 1));
        assertTrue(r[0] >= 0 && w[0] >= 0 && r[1] >= 0 && w[1] >= 0 && r[0] != r[1]);
        assertTrue(p.takeNsSocket(true) < 0, "no namespace, no socket");
        p.publish();
        assertEquals(Pools.SIZE - 2, values.get("splice.pool.pipes"));
        p.close();
        assertEquals(0, values.get("splice.pool.pipes"));
        for (int fd : new int[] {r[0], w[0], r[1], w[1]})
            io.penne.linux.Sys.close(fd);
    }
}
