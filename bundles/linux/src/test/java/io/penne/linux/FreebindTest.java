package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** pasta's --freebind: an address the host does not have can be bound only with the option set. */
class FreebindTest {
    final NativeBuffer scratch = NativeBuffer.allocate(Sys.SOCKADDR_SCRATCH_SIZE);
    /** 198.51.100.77 (TEST-NET-2) and 2001:db8::77 (documentation): not configured on any test host. */
    static final int ABSENT4 = 0xc6336477;
    static final long ABSENT6_HI = 0x20010db800000000L, ABSENT6_LO = 0x77;

    @Test
    void bindingAnAbsentAddressNeedsFreebind() {
        for (boolean v4 : new boolean[] {true, false}) {
            int plain = v4 ? Sockets.tcp(Sockets.AF_INET) : Sockets.tcp(Sockets.AF_INET6);
            int free = v4 ? Sockets.tcp(Sockets.AF_INET) : Sockets.tcp(Sockets.AF_INET6);
            try {
                assertEquals(-Errno.EADDRNOTAVAIL, bind(plain, v4), v4 ? "IPv4" : "IPv6");
                assertEquals(0, Sockets.setFreebind(free, v4, scratch));
                assertEquals(0, bind(free, v4), v4 ? "IPv4" : "IPv6");
            } finally {
                Sys.close(plain);
                Sys.close(free);
            }
        }
    }

    private int bind(int s, boolean v4) {
        return v4 ? Sockets.bind4(s, ABSENT4, 0, scratch) : Sockets.bind6(s, ABSENT6_HI, ABSENT6_LO, 0, scratch);
    }
}
