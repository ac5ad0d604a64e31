/*
 * libpenne-libc: the C library functions of io.penne.linux.LibC as plain JNI
 * natives of io.penne.linux.LibCNatives, plus errno and direct buffer access
 * for io.penne.linux.JniLibC.
 *
 * Why: a JNI static native with only int/long arguments costs about 55 ns
 * above a call from C (a failing splice(): 188 ns against 131), where a JNA
 * direct-mapped call costs about 310 (JNA's generic dispatch stub and two
 * libffi marshalling steps) and an FFM downcall with errno capture about 50,
 * but needs JDK 22 and allocates on some call sites. penne makes 7 to 30
 * calls per transaction or connection.
 *
 * Theory of operation: JNI_OnLoad registers every function below with
 * RegisterNatives, so a missing or misspelt one fails the load (and penne
 * falls back to FFM or JNA) instead of failing at its first call. Each
 * wrapper is the C call and nothing else, except that a negative result
 * copies errno into a per-thread slot: the JVM may run its own libc calls on
 * the same thread between this function's return and the Java caller's next
 * statement, so errno itself cannot be read later. Only failing calls write
 * the slot; read it right after the call that returned -1.
 *
 * Pointers travel as jlong addresses (LP64 only, which JniLibC checks).
 * fcntl, open and ioctl are called with their one optional argument, as the
 * Java declarations fix it.
 */
#define _GNU_SOURCE
#include <jni.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#define PTR(a) ((void *)(intptr_t)(a))

static __thread int saved_errno;

static inline jint ri(int r)
{
	if (r < 0)
		saved_errno = errno;
	return r;
}

static inline jlong rl(long r)
{
	if (r < 0)
		saved_errno = errno;
	return r;
}

/* Every wrapper's first two parameters, unused: the JNI environment and the Java class. */
#define J JNIEnv *env, jclass cls
#define UNUSED (void)env, (void)cls

static jint j_errno(J) { UNUSED; return saved_errno; }

/* epoll, eventfd, timerfd */
static jint j_epoll_create1(J, jint flags) { UNUSED; return ri(epoll_create1(flags)); }
static jint j_epoll_ctl(J, jint epfd, jint op, jint fd, jlong ev) { UNUSED; return ri(epoll_ctl(epfd, op, fd, PTR(ev))); }
static jint j_epoll_wait(J, jint epfd, jlong evs, jint max, jint timeout) { UNUSED; return ri(epoll_wait(epfd, PTR(evs), max, timeout)); }
static jint j_eventfd(J, jint init, jint flags) { UNUSED; return ri(eventfd((unsigned int)init, flags)); }
static jint j_eventfd_write(J, jint fd, jlong value) { UNUSED; return ri(eventfd_write(fd, (eventfd_t)value)); }
static jint j_eventfd_read(J, jint fd, jlong valuep) { UNUSED; return ri(eventfd_read(fd, PTR(valuep))); }
static jint j_timerfd_create(J, jint clock, jint flags) { UNUSED; return ri(timerfd_create(clock, flags)); }
static jint j_timerfd_settime(J, jint fd, jint flags, jlong nv, jlong ov) { UNUSED; return ri(timerfd_settime(fd, flags, PTR(nv), PTR(ov))); }
static jint j_timerfd_gettime(J, jint fd, jlong cur) { UNUSED; return ri(timerfd_gettime(fd, PTR(cur))); }

/* file descriptors */
static jint j_close(J, jint fd) { UNUSED; return ri(close(fd)); }
static jlong j_mmap(J, jlong addr, jlong len, jint prot, jint flags, jint fd, jlong off)
{
	UNUSED;
	void *p = mmap(PTR(addr), (size_t)len, prot, flags, fd, (off_t)off);
	if (p == MAP_FAILED) {
		saved_errno = errno;
		return -1;
	}
	return (jlong)(intptr_t)p;
}
static jint j_munmap(J, jlong addr, jlong len) { UNUSED; return ri(munmap(PTR(addr), (size_t)len)); }
static jlong j_read(J, jint fd, jlong buf, jlong n) { UNUSED; return rl(read(fd, PTR(buf), (size_t)n)); }
static jlong j_write(J, jint fd, jlong buf, jlong n) { UNUSED; return rl(write(fd, PTR(buf), (size_t)n)); }
static jlong j_readv(J, jint fd, jlong iov, jint cnt) { UNUSED; return rl(readv(fd, PTR(iov), cnt)); }
static jlong j_writev(J, jint fd, jlong iov, jint cnt) { UNUSED; return rl(writev(fd, PTR(iov), cnt)); }
static jint j_fcntl(J, jint fd, jint cmd, jlong arg) { UNUSED; return ri(fcntl(fd, cmd, (long)arg)); }
static jint j_pipe2(J, jlong fds, jint flags) { UNUSED; return ri(pipe2(PTR(fds), flags)); }
static jlong j_splice(J, jint in, jlong offin, jint out, jlong offout, jlong len, jint flags)
{
	UNUSED;
	return rl(splice(in, PTR(offin), out, PTR(offout), (size_t)len, (unsigned int)flags));
}
static jint j_dup(J, jint fd) { UNUSED; return ri(dup(fd)); }
static jint j_dup2(J, jint fd, jint nfd) { UNUSED; return ri(dup2(fd, nfd)); }
static jint j_dup3(J, jint fd, jint nfd, jint flags) { UNUSED; return ri(dup3(fd, nfd, flags)); }
static jint j_open(J, jlong path, jint flags, jint mode) { UNUSED; return ri(open(PTR(path), flags, (mode_t)mode)); }
static jint j_ioctl(J, jint fd, jlong req, jlong arg) { UNUSED; return ri(ioctl(fd, (unsigned long)req, (long)arg)); }

/* sockets */
static jint j_socket(J, jint dom, jint type, jint proto) { UNUSED; return ri(socket(dom, type, proto)); }
static jint j_bind(J, jint fd, jlong a, jint alen) { UNUSED; return ri(bind(fd, PTR(a), (socklen_t)alen)); }
static jint j_listen(J, jint fd, jint backlog) { UNUSED; return ri(listen(fd, backlog)); }
static jint j_accept4(J, jint fd, jlong a, jlong alenp, jint flags) { UNUSED; return ri(accept4(fd, PTR(a), PTR(alenp), flags)); }
static jint j_connect(J, jint fd, jlong a, jint alen) { UNUSED; return ri(connect(fd, PTR(a), (socklen_t)alen)); }
static jint j_setsockopt(J, jint fd, jint lvl, jint name, jlong v, jint len)
{
	UNUSED;
	return ri(setsockopt(fd, lvl, name, PTR(v), (socklen_t)len));
}
static jint j_getsockopt(J, jint fd, jint lvl, jint name, jlong v, jlong lenp)
{
	UNUSED;
	return ri(getsockopt(fd, lvl, name, PTR(v), PTR(lenp)));
}
static jint j_getsockname(J, jint fd, jlong a, jlong alenp) { UNUSED; return ri(getsockname(fd, PTR(a), PTR(alenp))); }
static jint j_getpeername(J, jint fd, jlong a, jlong alenp) { UNUSED; return ri(getpeername(fd, PTR(a), PTR(alenp))); }
static jint j_shutdown(J, jint fd, jint how) { UNUSED; return ri(shutdown(fd, how)); }
static jlong j_send(J, jint fd, jlong b, jlong n, jint fl) { UNUSED; return rl(send(fd, PTR(b), (size_t)n, fl)); }
static jlong j_recv(J, jint fd, jlong b, jlong n, jint fl) { UNUSED; return rl(recv(fd, PTR(b), (size_t)n, fl)); }
static jlong j_sendto(J, jint fd, jlong b, jlong n, jint fl, jlong a, jint alen)
{
	UNUSED;
	return rl(sendto(fd, PTR(b), (size_t)n, fl, PTR(a), (socklen_t)alen));
}
static jlong j_recvfrom(J, jint fd, jlong b, jlong n, jint fl, jlong a, jlong alenp)
{
	UNUSED;
	return rl(recvfrom(fd, PTR(b), (size_t)n, fl, PTR(a), PTR(alenp)));
}
static jlong j_sendmsg(J, jint fd, jlong m, jint fl) { UNUSED; return rl(sendmsg(fd, PTR(m), fl)); }
static jlong j_recvmsg(J, jint fd, jlong m, jint fl) { UNUSED; return rl(recvmsg(fd, PTR(m), fl)); }
static jint j_recvmmsg(J, jint fd, jlong v, jint n, jint fl, jlong ts) { UNUSED; return ri(recvmmsg(fd, PTR(v), (unsigned int)n, fl, PTR(ts))); }
static jint j_sendmmsg(J, jint fd, jlong v, jint n, jint fl) { UNUSED; return ri(sendmmsg(fd, PTR(v), (unsigned int)n, fl)); }

/* namespaces */
static jint j_unshare(J, jint flags) { UNUSED; return ri(unshare(flags)); }
static jint j_setns(J, jint fd, jint type) { UNUSED; return ri(setns(fd, type)); }

/* process identity (these cannot fail) */
static jint j_getpid(J) { UNUSED; return getpid(); }
static jint j_getuid(J) { UNUSED; return (jint)getuid(); }
static jint j_getgid(J) { UNUSED; return (jint)getgid(); }
static jint j_gettid(J) { UNUSED; return gettid(); }

/* direct buffers: the address of one, and one over an address (setup path) */
static jlong j_address(J, jobject buf)
{
	(void)cls;
	return (jlong)(intptr_t)(*env)->GetDirectBufferAddress(env, buf);
}
static jobject j_wrap(J, jlong addr, jint size)
{
	(void)cls;
	return (*env)->NewDirectByteBuffer(env, PTR(addr), size);
}

#define F(name, sig) { #name, sig, (void *)j_##name }

/* io.penne.linux.LibCNatives */
static const JNINativeMethod libc[] = {
	F(epoll_create1, "(I)I"),
	F(epoll_ctl, "(IIIJ)I"),
	F(epoll_wait, "(IJII)I"),
	F(eventfd, "(II)I"),
	F(eventfd_write, "(IJ)I"),
	F(eventfd_read, "(IJ)I"),
	F(timerfd_create, "(II)I"),
	F(timerfd_settime, "(IIJJ)I"),
	F(timerfd_gettime, "(IJ)I"),
	F(close, "(I)I"),
	F(mmap, "(JJIIIJ)J"),
	F(munmap, "(JJ)I"),
	F(read, "(IJJ)J"),
	F(write, "(IJJ)J"),
	F(readv, "(IJI)J"),
	F(writev, "(IJI)J"),
	F(fcntl, "(IIJ)I"),
	F(pipe2, "(JI)I"),
	F(splice, "(IJIJJI)J"),
	F(dup, "(I)I"),
	F(dup2, "(II)I"),
	F(dup3, "(III)I"),
	F(open, "(JII)I"),
	F(ioctl, "(IJJ)I"),
	F(socket, "(III)I"),
	F(bind, "(IJI)I"),
	F(listen, "(II)I"),
	F(accept4, "(IJJI)I"),
	F(connect, "(IJI)I"),
	F(setsockopt, "(IIIJI)I"),
	F(getsockopt, "(IIIJJ)I"),
	F(getsockname, "(IJJ)I"),
	F(getpeername, "(IJJ)I"),
	F(shutdown, "(II)I"),
	F(send, "(IJJI)J"),
	F(recv, "(IJJI)J"),
	F(sendto, "(IJJIJI)J"),
	F(recvfrom, "(IJJIJJ)J"),
	F(sendmsg, "(IJI)J"),
	F(recvmsg, "(IJI)J"),
	F(recvmmsg, "(IJIIJ)I"),
	F(sendmmsg, "(IJII)I"),
	F(unshare, "(I)I"),
	F(setns, "(II)I"),
	F(getpid, "()I"),
	F(getuid, "()I"),
	F(getgid, "()I"),
	F(gettid, "()I"),
};

/* io.penne.linux.JniLibC */
static const JNINativeMethod extras[] = {
	F(errno, "()I"),
	F(address, "(Ljava/nio/ByteBuffer;)J"),
	F(wrap, "(JI)Ljava/nio/ByteBuffer;"),
};

/* Registers methods on the class named cname, found through this library's class loader (JniLibC's). */
static int register_natives(JNIEnv *env, const char *cname, const JNINativeMethod *m, int n)
{
	jclass cls = (*env)->FindClass(env, cname);

	return cls && (*env)->RegisterNatives(env, cls, m, n) == 0 ? 0 : -1;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved)
{
	JNIEnv *env;

	(void)reserved;
	if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK)
		return JNI_ERR;
	if (register_natives(env, "io/penne/linux/LibCNatives", libc, sizeof(libc) / sizeof(libc[0])) ||
	    register_natives(env, "io/penne/linux/JniLibC", extras, sizeof(extras) / sizeof(extras[0])))
		return JNI_ERR;
	return JNI_VERSION_1_8;
}
