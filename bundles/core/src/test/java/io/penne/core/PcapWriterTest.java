package io.penne.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.penne.linux.NativeBuffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PcapWriterTest {
    @TempDir
    Path dir;

    @Test
    void writesAFileTcpdumpReads() throws Exception {
        CountersImpl counters = new CountersImpl();
        Path f = dir.resolve("guest.pcap");
        NativeBuffer frames = NativeBuffer.allocate(256);
        for (int i = 0; i < 256; i++)
            frames.buffer().put(i, (byte) i);
        long before = System.currentTimeMillis() / 1000;
        try (PcapWriter w = PcapWriter.open(f.toString(), counters)) {
            w.frame(frames, 10, 60);
            w.frame(frames, 100, 42);
        }
        long after = System.currentTimeMillis() / 1000;
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
        // libpcap's layout in the writer's byte order; the magic number says which order that is
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f));
        b.order(b.getInt(0) == 0xa1b2c3d4 ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xa1b2c3d4, b.getInt(0));
        assertEquals(2, b.getShort(4));
        assertEquals(4, b.getShort(6));
        assertEquals(65535, b.getInt(16));
        assertEquals(1, b.getInt(20), "link type Ethernet");
        assertEquals(24 + 16 + 60 + 16 + 42, b.capacity());
        int rec = 24;
        for (int[] frame : new int[][] {{10, 60}, {100, 42}}) {
            long sec = b.getInt(rec) & 0xffffffffL;
            assertTrue(sec >= before && sec <= after, "timestamp " + sec);
            assertTrue(b.getInt(rec + 4) >= 0 && b.getInt(rec + 4) < 1_000_000, "microseconds");
            assertEquals(frame[1], b.getInt(rec + 8), "captured length");
            assertEquals(frame[1], b.getInt(rec + 12), "length on the wire");
            for (int i = 0; i < frame[1]; i++)
                assertEquals((byte) (frame[0] + i), b.get(rec + 16 + i));
            rec += 16 + frame[1];
        }
        assertEquals(2, counters.snapshot().get("pcap.frames"));
        assertEquals(0, counters.snapshot().get("pcap.errors"));
    }

    @Test
    void anExistingFileIsTruncated() throws Exception {
        Path f = dir.resolve("old.pcap");
        Files.writeString(f, "x".repeat(1000));
        PcapWriter.open(f.toString(), new CountersImpl()).close();
        assertEquals(24, Files.size(f), "just the file header");
    }

    @Test
    void aPathThatCannotBeWrittenIsRefusedByName() {
        String bad = dir.resolve("no/such/dir/x.pcap").toString();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> PcapWriter.open(bad, new CountersImpl()));
        assertTrue(e.getMessage().contains(bad) && e.getMessage().contains("--pcap"), e.getMessage());
    }
}
