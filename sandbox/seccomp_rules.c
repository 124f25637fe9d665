/*
 * sandbox/seccomp_rules.c — every system call xendm may make once it is serving, and
 * why. Anything not listed kills the process (sandbox/sandbox.h: SandboxViolation).
 *
 * The list follows what runs after the last start-up step, through glibc, Debian's Xen
 * libraries (libxenforeignmemory, libxendevicemodel, libxenevtchn, libxenstore,
 * libxenctrl on /dev/xen/privcmd, /dev/xen/evtchn and xenstored's socket or
 * /dev/xen/xenbus) and mockxen's shims (Unix sockets connected at open time, memfds
 * received and mapped on the first foreign map, eventfds and epoll): the event loop,
 * the block engines' worker threads, and the teardown (dm_stop), which runs under the
 * filter. Deliberately absent: open/openat/creat, execve/execveat, fork/vfork/clone/
 * clone3 (the threads engine starts its workers at start-up, io_uring's kernel workers
 * are not ours), socket/connect/bind/listen, io_uring_setup/io_uring_register,
 * ptrace, mount/chroot/setuid and the other privileged calls, kill and signals to other
 * processes.
 */
#include "sandbox/sandbox-internal.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <xen/xen.h>             /* domid_t, xen_pfn_t for privcmd.h */
#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>
#include <xen/sys/privcmd.h>

#include "util/macros.h"

#define ALLOW(sys, reason) { .nr = SCMP_SYS(sys), .name = #sys, .why = reason }
#define ALLOW_IF(sys, cmp, reason) \
    { .nr = SCMP_SYS(sys), .name = #sys, .nr_args = 1, .arg = { cmp }, .why = reason }
/* Argument n equals v. */
#define ARG_EQ(n, v) { .arg = (n), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)(v) }
/* Argument n, masked with m, equals v. */
#define ARG_MASKED(n, m, v) \
    { .arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = (scmp_datum_t)(m), \
      .datum_b = (scmp_datum_t)(v) }
/* An ioctl request: the kernel reads 32 bits, so callers' sign extension is ignored. */
#define IOCTL(req, reason) ALLOW_IF(ioctl, ARG_MASKED(1, 0xffffffffu, (unsigned)(req)), reason)
#define NO_EXEC ARG_MASKED(2, PROT_EXEC, 0)

static const SandboxRule production[] = {
    /* ---- the event loop and its sources ---- */
    ALLOW(epoll_wait, "the loop's wait (dm_run), the control socket's own set"),
    ALLOW(epoll_pwait, "epoll_wait as newer glibc issues it"),
    ALLOW(epoll_ctl, "device fds joining and leaving the loop (sync_device_fds), control "
                     "clients, the evtchn shim dropping a gone daemon"),
    ALLOW(read, "eventfds, the signalfd, evtchn pending ports (libxenevtchn), xenstore "
                "replies, control clients, chardev input"),
    ALLOW(write, "the log, eventfd signals, evtchn unmask (libxenevtchn), xenstore "
                 "requests, chardev output, the statistics file at exit"),
    ALLOW(readv, "stdio and chardev reads in pieces"),
    ALLOW(writev, "stdio and chardev writes in pieces"),
    ALLOW(poll, "blk_drain's bounded wait for the disk (block/completion.c)"),
    ALLOW(ppoll, "poll as glibc may issue it"),
    ALLOW(close, "control clients, and every fd the teardown closes"),
    ALLOW(accept4, "new control clients on the socket opened at start-up"),
    ALLOW(sendto, "control replies (send with MSG_DONTWAIT)"),
    ALLOW(recvfrom, "recv on connected sockets"),
    ALLOW(sendmsg, "mockxen's shims: requests to the daemon"),
    ALLOW(recvmsg, "mockxen's shims: replies, with fds (SCM_RIGHTS) on the first map"),
    ALLOW(clock_gettime, "budgets and deadlines, when the vDSO falls back to the kernel"),
    ALLOW(newfstatat, "stdio sizing a stream's buffer on its first write"),
    ALLOW(fstat, "fstat as older glibc issues it"),
    ALLOW(lseek, "stdio syncing a stream's position on fclose"),
    ALLOW(getrandom, "virtio-rng's entropy (devices/virtio_rng.c)"),
    ALLOW(unlink, "the control socket's path, removed at exit (dm_control_close)"),

    /* ---- disk I/O (block/) ---- */
    ALLOW(io_uring_enter, "submitting to the image's ring, restricted to its registered "
                          "file and four operations (block/engine_uring.c)"),
    ALLOW(preadv2, "the threads engine's reads (block/host_op.c)"),
    ALLOW(pwritev2, "the threads engine's writes"),
    ALLOW(preadv, "preadv2 with no flags, as glibc may issue it"),
    ALLOW(pwritev, "pwritev2 with no flags, as glibc may issue it"),
    ALLOW(fdatasync, "FLUSH on the threads engine"),
    ALLOW(fallocate, "DISCARD and WRITE_ZEROES on image files"),
    ALLOW_IF(fcntl, ARG_EQ(1, F_OFD_SETLK), "the image's OFD lock released at teardown "
                                            "(block/image_lock.c)"),
    IOCTL(BLKDISCARD, "DISCARD on a block device (block/host_op.c)"),
    IOCTL(BLKZEROOUT, "WRITE_ZEROES on a block device"),

    /* ---- memory: never executable ---- */
    ALLOW_IF(mmap, NO_EXEC, "malloc; foreign guest memory (privcmd, or the shim's memfd)"),
    ALLOW_IF(mprotect, NO_EXEC, "malloc's arenas growing"),
    ALLOW(munmap, "free; the mapcache and the teardown unmapping guest memory"),
    ALLOW(mremap, "realloc of large blocks"),
    ALLOW(madvise, "free returning memory; thread stacks at exit"),
    ALLOW(brk, "malloc growing its main heap"),

    /* ---- Xen: privcmd (libxenforeignmemory, libxendevicemodel, libxenctrl) ---- */
    IOCTL(IOCTL_PRIVCMD_MMAPBATCH_V2, "xenforeignmemory_map: the mapcache's buckets"),
    IOCTL(IOCTL_PRIVCMD_MMAPBATCH, "xenforeignmemory_map on kernels without V2"),
    IOCTL(IOCTL_PRIVCMD_MMAP_RESOURCE, "xenforeignmemory_map_resource: ioreq pages"),
    IOCTL(IOCTL_PRIVCMD_DM_OP, "every xendevicemodel_* call: ranges, interrupts, MSIs, "
                               "modified memory, the ioreq server's state and destroy"),
    IOCTL(IOCTL_PRIVCMD_HYPERCALL, "libxenctrl and libxendevicemodel's fallback without "
                                   "DM_OP (a restricted handle refuses it)"),

    /* ---- Xen: event channels (libxenevtchn; pending/unmask are read/write) ---- */
    IOCTL(IOCTL_EVTCHN_NOTIFY, "xenevtchn_notify: answering an ioreq"),
    IOCTL(IOCTL_EVTCHN_UNBIND, "xenevtchn_unbind in the teardown"),

    /* ---- Xen: grant maps (libxengnttab), only for grant_usage=1 devices ---- */
    IOCTL(IOCTL_GNTDEV_MAP_GRANT_REF, "xengnttab_map_domain_grant_refs: a grant DMA access "
                                      "(mapcache/grant_dma.c), then mmap of gntdev"),
    IOCTL(IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, "xengnttab_unmap finding the mapping's grants"),
    IOCTL(IOCTL_GNTDEV_UNMAP_GRANT_REF, "xengnttab_unmap when the access or request ends"),

    /* ---- threads, signals, exit ---- */
    ALLOW(futex, "locks: the threads engine's lists, the shims, stdio"),
    ALLOW(rt_sigprocmask, "glibc blocking signals around raise() and thread exit"),
    ALLOW(rt_sigaction, "libxenstore ignoring SIGPIPE around a request"),
    ALLOW(rt_sigreturn, "returning from a signal handler"),
    ALLOW(getpid, "raise(), in the report handler and abort()"),
    ALLOW(gettid, "raise(), in the report handler and abort()"),
    { .nr = SCMP_SYS(tgkill), .name = "tgkill", .nr_args = 1, .arg = { ARG_EQ(0, 0) },
      .arg0_is_own_pid = true, .why = "raise() and abort(): signals to our own threads only" },
    ALLOW(sched_yield, "glibc and libxenstore spinning on a lock"),
    ALLOW(exit, "worker threads ending at teardown"),
    ALLOW(exit_group, "the end of the process: main returning, exit(), a fatal error"),
};

const SandboxRuleTable sandbox_production_rules = {
    "xendm", production, ARRAY_SIZE(production),
};

/*
 * Only with sanitizer_extras: AddressSanitizer's reports and LeakSanitizer's check at
 * exit. The leak check stops the world: it clones a tracer task that lists our threads
 * in /proc/self/task, ptrace-attaches to each and reads their registers; reports read
 * /proc/self/maps and the binary's symbols. Files are opened read-only, never created.
 */
#define READ_ONLY_MASK (O_ACCMODE | O_CREAT | O_TRUNC)
#define LSAN_TRACER_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED)
static const SandboxRule sanitizers[] = {
    ALLOW_IF(open, ARG_MASKED(1, READ_ONLY_MASK, O_RDONLY),
             "the runtime reading /proc/self/maps and /proc/self/task"),
    ALLOW_IF(openat, ARG_MASKED(2, READ_ONLY_MASK, O_RDONLY),
             "the symbolizer reading the binary's symbols through glibc"),
    ALLOW(getdents, "listing /proc/self/task"),
    ALLOW(getdents64, "listing /proc/self/task through glibc"),
    ALLOW(readlink, "/proc/self/exe for reports"),
    ALLOW(pread64, "the symbolizer reading ELF sections"),
    ALLOW_IF(clone, ARG_EQ(0, LSAN_TRACER_FLAGS), "the leak check's tracer task"),
    ALLOW(ptrace, "the tracer suspending and reading our threads"),
    ALLOW(wait4, "waiting for the tracer and for traced threads"),
    ALLOW(prctl, "PR_SET_PTRACER, PR_SET_DUMPABLE, PR_SET_PDEATHSIG around the tracer"),
    ALLOW(sigaltstack, "the runtime's signal stacks"),
    ALLOW(getppid, "the tracer checking on its parent"),
    ALLOW(kill, "the tracer and the runtime signalling our tasks"),
    ALLOW(mincore, "the runtime checking whether memory is mapped"),
};

const SandboxRuleTable sandbox_sanitizer_rules = {
    "sanitizers", sanitizers, ARRAY_SIZE(sanitizers),
};
