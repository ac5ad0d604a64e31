package io.penne.itest.handler;

import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.Instance;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.FlowType;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sys;
import java.util.Set;
import org.osgi.service.component.annotations.Component;

/**
 * A handler for the integration tests of hot swap: on first attach to an
 * instance it registers a timerfd firing every 10 ms under event type
 * {@value #TYPE}; on every event it reads the expirations. It keeps no state:
 * the fd travels in the epoll reference, so a replacement object (after a
 * bundle update) adopts the same timer instead of creating another.
 */
@Component
public final class TickHandler implements ProtocolHandler {
    public static final String TYPE = "itest.tick";
    private static final long PERIOD_NANOS = 10_000_000L;

    @Override
    public String name() {
        return TYPE;
    }

    @Override
    public Set<String> eventTypes() {
        return Set.of(TYPE);
    }

    @Override
    public Set<FlowType> flowTypes() {
        return Set.of();
    }

    @Override
    public void attach(Instance instance, boolean adopting) {
        if (adopting)
            return;
        NativeBuffer scratch = NativeBuffer.forThread();
        int fd = Sys.check(Sys.timerfdCreate(Sys.CLOCK_MONOTONIC, Sys.TFD_NONBLOCK | Sys.TFD_CLOEXEC), "timerfd");
        Sys.check(Sys.timerfdSettime(fd, 0, PERIOD_NANOS, PERIOD_NANOS, scratch), "timerfd_settime");
        Sys.check(instance.loop().register(fd, EventLoop.EPOLLIN, EpollRef.of(instance.eventType(TYPE), fd, 0)),
            "register");
    }

    @Override
    public void event(Instance instance, int eventType, long ref, int events) {
        Sys.read(EpollRef.fd(ref), NativeBuffer.forThread(), 0, 8);
    }
}
