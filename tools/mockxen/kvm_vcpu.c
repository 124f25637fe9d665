/*
 * tools/mockxen/kvm_vcpu.c — a KVM VM over the domain's RAM running one vCPU of real
 * x86 code; its I/O and MMIO exits go to the device model as ioreqs (see kvm_guest.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/mockxen/kvm_guest.h"
#include "util/macros.h"

#define KVM_API_VERSION_NEEDED 12
#define KVM_TSS_ADDR  0xfffbd000u       /* 3 pages VMX needs, far above guest RAM */
#define CR0_PE        (1ull << 0)
#define CR0_PG        (1ull << 31)
#define RFLAGS_FIXED  (1ull << 1)
#define SEG_CODE      0xb               /* execute/read, accessed */
#define SEG_DATA      0x3               /* read/write, accessed */

struct MxKvmGuest {
    int kvm_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *image;
    size_t image_len;
    uint8_t *ram;                 /* the domain's mapping of its RAM memfd (not owned) */
    uint64_t high_ram_end;        /* RAM is [0, LOW_RAM_END) and [HIGH_RAM, high_ram_end) */
    uint64_t timer_start_ns, timer_iterations;
    MxKvmParam params[MX_KVM_PARAMS_MAX];
    unsigned nparams;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Report the system call that just failed, with errno (read before anything can change
 * it); returns -errno. */
static int errno_error(Error **errp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int errno_error(Error **errp, const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    error_vsetg(errp, err, fmt, ap);
    va_end(ap);
    return -err;
}

/* ---- creation ------------------------------------------------------------------------ */

static int open_vm(MxKvmGuest *g, Error **errp)
{
    g->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (g->kvm_fd < 0)
        return errno_error(errp, "KVM unavailable: cannot open /dev/kvm");
    int version = ioctl(g->kvm_fd, KVM_GET_API_VERSION, 0);
    if (version < 0)
        return errno_error(errp, "KVM unavailable: KVM_GET_API_VERSION on /dev/kvm");
    if (version != KVM_API_VERSION_NEEDED) {
        error_setg(errp, "KVM unavailable: /dev/kvm API version %d, need %d", version,
                   KVM_API_VERSION_NEEDED);
        return -ENODEV;
    }
    g->vm_fd = ioctl(g->kvm_fd, KVM_CREATE_VM, 0);
    if (g->vm_fd < 0)
        return errno_error(errp, "KVM unavailable: KVM_CREATE_VM");
    if (ioctl(g->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
        return errno_error(errp, "KVM unavailable: KVM_SET_TSS_ADDR 0x%x", KVM_TSS_ADDR);
    return 0;
}

static int create_vcpu(MxKvmGuest *g, Error **errp)
{
    int size = ioctl(g->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < 0)
        return errno_error(errp, "KVM unavailable: KVM_GET_VCPU_MMAP_SIZE");
    if (size < (int)sizeof(struct kvm_run)) {
        error_setg(errp, "KVM unavailable: vCPU run area of %d bytes, struct kvm_run "
                   "needs %zu", size, sizeof(struct kvm_run));
        return -EINVAL;
    }
    g->vcpu_fd = ioctl(g->vm_fd, KVM_CREATE_VCPU, 0);
    if (g->vcpu_fd < 0)
        return errno_error(errp, "KVM unavailable: KVM_CREATE_VCPU 0");
    void *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu_fd, 0);
    if (run == MAP_FAILED)
        return errno_error(errp, "KVM unavailable: mapping the vCPU run area (%d bytes)",
                           size);
    g->run = run;
    g->run_size = size;
    return 0;
}

/* Give the vCPU the CPUID KVM supports: without it the guest has no long mode (a
 * write of EFER.LME faults), no TSC, nothing a 64-bit guest needs. */
static int set_cpuid(MxKvmGuest *g, Error **errp)
{
    enum { MAX_ENTRIES = 256 };
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) +
                                         MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
    if (!cpuid) {
        error_setg(errp, "out of memory for the KVM guest's CPUID");
        return -ENOMEM;
    }
    cpuid->nent = MAX_ENTRIES;
    int rc = 0;
    if (ioctl(g->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
        rc = errno_error(errp, "KVM unavailable: KVM_GET_SUPPORTED_CPUID");
    else if (ioctl(g->vcpu_fd, KVM_SET_CPUID2, cpuid) < 0)
        rc = errno_error(errp, "KVM unavailable: KVM_SET_CPUID2 (%u entries)", cpuid->nent);
    free(cpuid);
    return rc;
}

MxKvmGuest *mx_kvm_guest_create(Error **errp)
{
    MxKvmGuest *g = calloc(1, sizeof(*g));
    if (!g) {
        error_setg(errp, "out of memory for the KVM guest");
        return NULL;
    }
    g->kvm_fd = g->vm_fd = g->vcpu_fd = -1;
    if (open_vm(g, errp) || create_vcpu(g, errp) || set_cpuid(g, errp)) {
        mx_kvm_guest_destroy(g);
        return NULL;
    }
    return g;
}

void mx_kvm_guest_destroy(MxKvmGuest *g)
{
    if (!g)
        return;
    if (g->run)
        munmap(g->run, g->run_size);
    int fds[] = { g->vcpu_fd, g->vm_fd, g->kvm_fd };
    for (unsigned i = 0; i < ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(g->image);
    free(g);
}

int mx_kvm_guest_load_image(MxKvmGuest *g, const char *path, Error **errp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int rc = errno_error(errp, "KVM guest image %s", path);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    if (st.st_size <= 0 || st.st_size > MX_KVM_IMAGE_MAX) {
        int err = st.st_size <= 0 ? EINVAL : EFBIG;
        error_setg_errno(errp, err, "KVM guest image %s: %lld bytes, must be 1..%u", path,
                         (long long)st.st_size, MX_KVM_IMAGE_MAX);
        close(fd);
        return -err;
    }
    uint8_t *image = malloc(st.st_size);
    ssize_t n = image ? read(fd, image, st.st_size) : -1;
    int err = n < 0 ? errno : EIO;
    close(fd);
    if (n != st.st_size) {
        error_setg_errno(errp, err, "reading KVM guest image %s (%lld bytes)", path,
                         (long long)st.st_size);
        free(image);
        return -err;
    }
    free(g->image);
    g->image = image;
    g->image_len = st.st_size;
    return 0;
}

int mx_kvm_guest_add_param(MxKvmGuest *g, const char *spec, Error **errp)
{
    if (g->nparams == MX_KVM_PARAMS_MAX) {
        error_setg_errno(errp, E2BIG, "KVM guest parameter '%s': more than %d parameters",
                         spec, MX_KVM_PARAMS_MAX);
        return -E2BIG;
    }
    int rc = mx_kvm_param_parse(spec, &g->params[g->nparams], errp);
    if (rc == 0)
        g->nparams++;
    return rc;
}

/* ---- memory and start state ---------------------------------------------------------- */

static int add_slot(MxKvmGuest *g, uint32_t slot, uint64_t gpa, uint64_t size, Error **errp)
{
    struct kvm_userspace_memory_region region = {
        .slot = slot, .guest_phys_addr = gpa, .memory_size = size,
        .userspace_addr = (uintptr_t)(g->ram + gpa),
    };
    if (ioctl(g->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return errno_error(errp, "KVM memory slot %u: 0x%llx+0x%llx", slot,
                           (unsigned long long)gpa, (unsigned long long)size);
    return 0;
}

/* The PC layout of kvm_guest.h over the domain's RAM, low 640 KiB populated. */
static int attach_memory(MxKvmGuest *g, MxDomain *d, Error **errp)
{
    uint64_t ram_bytes = (d->max_gfn + 1) << MX_PAGE_SHIFT;
    if (ram_bytes < MX_KVM_LOW_RAM_END) {
        error_setg_errno(errp, EINVAL, "KVM guest needs at least 0x%x bytes of RAM, the "
                         "domain has 0x%llx", MX_KVM_LOW_RAM_END,
                         (unsigned long long)ram_bytes);
        return -EINVAL;
    }
    g->ram = d->ram;
    g->high_ram_end = ram_bytes < MX_KVM_MMIO_HOLE ? ram_bytes : MX_KVM_MMIO_HOLE;
    int rc = add_slot(g, 0, 0, MX_KVM_LOW_RAM_END, errp);
    if (rc == 0 && g->high_ram_end > MX_KVM_HIGH_RAM)
        rc = add_slot(g, 1, MX_KVM_HIGH_RAM, g->high_ram_end - MX_KVM_HIGH_RAM, errp);
    if (rc)
        return rc;
    uint64_t gfns[MX_KVM_LOW_RAM_END >> MX_PAGE_SHIFT];
    for (uint64_t i = 0; i < ARRAY_SIZE(gfns); i++)
        gfns[i] = i;
    return mx_domain_populate(d, gfns, ARRAY_SIZE(gfns), 0, errp);
}

static struct kvm_segment flat_segment(uint8_t type, uint16_t selector)
{
    return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = selector,
                                 .type = type, .present = 1, .dpl = 0, .db = 1, .s = 1,
                                 .l = 0, .g = 1 };
}

/* 32-bit flat protected mode, paging and interrupts off, at the image's first byte. */
static int set_start_state(MxKvmGuest *g, Error **errp)
{
    struct kvm_sregs sregs;
    if (ioctl(g->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return errno_error(errp, "KVM_GET_SREGS");
    sregs.cs = flat_segment(SEG_CODE, 0x08);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(SEG_DATA, 0x10);
    sregs.cr0 = (sregs.cr0 | CR0_PE) & ~CR0_PG;
    sregs.efer = 0;
    struct kvm_regs regs = { .rip = MX_KVM_LOAD_ADDR, .rsp = MX_KVM_STACK_TOP,
                             .rflags = RFLAGS_FIXED };
    if (ioctl(g->vcpu_fd, KVM_SET_SREGS, &sregs) < 0 ||
        ioctl(g->vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return errno_error(errp, "setting the KVM vCPU's start registers");
    return 0;
}

/* ---- exits --------------------------------------------------------------------------- */

static bool in_ram(const MxKvmGuest *g, uint64_t gpa, uint64_t len)
{
    if (gpa + len < gpa)
        return false;
    return gpa + len <= MX_KVM_LOW_RAM_END ||
           (gpa >= MX_KVM_HIGH_RAM && gpa + len <= g->high_ram_end);
}

static int linear_to_physical(MxKvmGuest *g, const struct kvm_sregs *sregs, uint64_t linear,
                              uint64_t *gpa, Error **errp)
{
    if (!(sregs->cr0 & CR0_PG)) {
        *gpa = linear;
        return 0;
    }
    struct kvm_translation tr = { .linear_address = linear };
    if (ioctl(g->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid) {
        error_setg_errno(errp, EFAULT, "string I/O buffer at linear 0x%llx is not mapped",
                         (unsigned long long)linear);
        return -EFAULT;
    }
    *gpa = tr.physical_address;
    return 0;
}

/* The guest RAM range of a string I/O buffer: element 0 at buf->gpa. */
static int string_buffer(MxKvmGuest *g, MxKvmStringBuf *buf, uint64_t *lowest, Error **errp)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    if (ioctl(g->vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
        ioctl(g->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return errno_error(errp, "reading the KVM vCPU's registers");
    uint32_t count = g->run->io.count, size = g->run->io.size;
    bool in = g->run->io.direction == KVM_EXIT_IO_IN;
    uint64_t linear = mx_kvm_string_linear(&regs, &sregs, in, count, size, &buf->df);
    int rc = linear_to_physical(g, &sregs, linear, &buf->gpa, errp);
    if (rc)
        return rc;
    uint64_t span = (uint64_t)(count - 1) * size;
    bool wraps = buf->df && buf->gpa < span;
    *lowest = buf->df ? buf->gpa - span : buf->gpa;
    if (wraps || !in_ram(g, *lowest, span + size)) {
        error_setg_errno(errp, EFAULT, "string I/O on port 0x%x: buffer 0x%llx (%u x %u "
                         "bytes%s) is not guest RAM", g->run->io.port,
                         (unsigned long long)buf->gpa, count, size, buf->df ? ", df" : "");
        return -EFAULT;
    }
    return 0;
}

static void timer_port(MxKvmGuest *g, uint64_t value, const GuestBackendOps *ops, void *opaque)
{
    if (value) {
        g->timer_iterations = value;
        g->timer_start_ns = now_ns();
        return;
    }
    if (!g->timer_iterations)
        return;                   /* a stop without a start reports nothing */
    uint64_t total = now_ns() - g->timer_start_ns;
    if (ops->report_time)
        ops->report_time(opaque, 0, "kvm-guest", "", g->timer_iterations, total);
    else
        printf("row\tkvm-guest\t%.1f\tns\t-\n", (double)total / g->timer_iterations);
    fflush(stdout);
    g->timer_iterations = 0;
}

/* A read of the timer port: the monotonic clock in microseconds. */
static uint64_t clock_us(void)
{
    return now_ns() / 1000;
}

/* The print port: the NUL-terminated string at guest-physical `gpa`, through ops->print
 * (or on stdout as "vcpu0: text"). */
static int print_port(MxKvmGuest *g, uint64_t gpa, const GuestBackendOps *ops, void *opaque,
                      Error **errp)
{
    char text[MX_KVM_PRINT_MAX];
    uint64_t len = 0;
    for (; len < sizeof(text) && in_ram(g, gpa, len + 1); len++) {
        text[len] = (char)g->ram[gpa + len];
        if (text[len] == '\0')
            break;
    }
    if (len == sizeof(text) || !in_ram(g, gpa, len + 1)) {
        error_setg_errno(errp, EFAULT, "print port 0x%x: no NUL-terminated string of at "
                         "most %d bytes in guest RAM at 0x%llx", MX_KVM_PRINT_PORT,
                         MX_KVM_PRINT_MAX - 1, (unsigned long long)gpa);
        return -EFAULT;
    }
    if (ops->print)
        ops->print(opaque, 0, text);
    else
        printf("vcpu0: %s\n", text);
    fflush(stdout);
    return 0;
}

static int sleep_port(uint64_t us, Error **errp)
{
    if (us > MX_KVM_SLEEP_MAX_US) {
        error_setg_errno(errp, EINVAL, "sleep port 0x%x: %llu us, at most %u",
                         MX_KVM_SLEEP_PORT, (unsigned long long)us, MX_KVM_SLEEP_MAX_US);
        return -EINVAL;
    }
    struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}

/* The MSI port's answer: the data of the next MSI, or all ones if none comes in time. */
static uint64_t take_msi(const GuestBackendOps *ops, void *opaque)
{
    GuestIrq any = { .kind = GUEST_IRQ_MSI };
    GuestMsi msi;
    Error *err = NULL;
    if (!ops->wait_irq ||
        ops->wait_irq(opaque, 0, &any, GUEST_DEFAULT_IRQ_TIMEOUT_NS, &msi, &err) < 0) {
        error_free(err);
        return UINT64_MAX;
    }
    return msi.data;
}

/* Is this an access to one of mockxen's own ports? Then it is handled here, *rc its
 * result: the exit port sets *exited and *status, the timer port starts or reports a
 * timing or (read) tells the time, a read of the MSI port gets its answer in req->data,
 * the print and sleep ports print and sleep. */
static bool own_port(MxKvmGuest *g, ioreq_t *req, const GuestBackendOps *ops, void *opaque,
                     bool *exited, uint64_t *status, int *rc, Error **errp)
{
    *rc = 0;
    if (req->data_is_ptr)
        return false;
    if (req->dir == IOREQ_READ) {
        if (req->addr == MX_KVM_MSI_PORT)
            req->data = take_msi(ops, opaque);
        else if (req->addr == MX_KVM_TIMER_PORT)
            req->data = clock_us();
        else
            return false;
        return true;
    }
    switch (req->addr) {
    case MX_KVM_EXIT_PORT:
        *exited = true;
        *status = req->data;
        return true;
    case MX_KVM_TIMER_PORT:
        timer_port(g, req->data, ops, opaque);
        return true;
    case MX_KVM_PRINT_PORT:
        *rc = print_port(g, req->data, ops, opaque, errp);
        return true;
    case MX_KVM_SLEEP_PORT:
        *rc = sleep_port(req->data, errp);
        return true;
    default:
        return false;
    }
}

static int handle_io(MxKvmGuest *g, const GuestBackendOps *ops, void *opaque, bool *exited,
                     uint64_t *status, Error **errp)
{
    MxKvmStringBuf buf = { 0 };
    uint64_t lowest = 0;
    ioreq_t req;
    int rc = 0;
    if (g->run->io.count > 1)
        rc = string_buffer(g, &buf, &lowest, errp);
    if (rc == 0)
        rc = mx_kvm_io_to_ioreq(g->run, g->run_size, &buf, &req, errp);
    if (rc)
        return rc;
    if (own_port(g, &req, ops, opaque, exited, status, &rc, errp)) {
        if (rc == 0)
            mx_kvm_io_complete(g->run, &req, NULL);
        return rc;
    }
    rc = ops->ioreq(opaque, 0, &req, 0, errp);
    if (rc == 0)
        mx_kvm_io_complete(g->run, &req, req.data_is_ptr ? g->ram + lowest : NULL);
    return rc;
}

static int handle_mmio(MxKvmGuest *g, const GuestBackendOps *ops, void *opaque, Error **errp)
{
    ioreq_t req;
    int rc = mx_kvm_mmio_to_ioreq(g->run, &req, errp);
    if (rc == 0)
        rc = ops->ioreq(opaque, 0, &req, 0, errp);
    if (rc == 0)
        mx_kvm_mmio_complete(g->run, &req);
    return rc;
}

/* An exit that ends the run with an error: say which, and where the guest was. */
static int unexpected_exit(MxKvmGuest *g, Error **errp)
{
    struct kvm_regs regs = { 0 };
    ioctl(g->vcpu_fd, KVM_GET_REGS, &regs);
    const struct kvm_run *run = g->run;
    switch (run->exit_reason) {
    case KVM_EXIT_HLT:
        error_setg_errno(errp, EFAULT, "KVM guest halted at rip 0x%llx without writing the "
                         "exit port 0x%x", (unsigned long long)regs.rip, MX_KVM_EXIT_PORT);
        break;
    case KVM_EXIT_SHUTDOWN:
        error_setg_errno(errp, EFAULT, "KVM guest triple-faulted (rip 0x%llx)",
                         (unsigned long long)regs.rip);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        error_setg_errno(errp, EFAULT, "KVM could not enter the guest: hardware reason "
                         "0x%llx",
                         (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        error_setg_errno(errp, EFAULT, "KVM internal error %u at rip 0x%llx",
                         run->internal.suberror, (unsigned long long)regs.rip);
        break;
    default:
        error_setg_errno(errp, EFAULT, "unexpected KVM exit %u at rip 0x%llx",
                         run->exit_reason, (unsigned long long)regs.rip);
        break;
    }
    return -EFAULT;
}

static int run_loop(MxKvmGuest *g, const GuestBackendOps *ops, void *opaque, Error **errp)
{
    bool exited = false;
    uint64_t status = 0;
    int rc = 0;
    while (rc == 0 && !exited) {
        if (ioctl(g->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errno_error(errp, "KVM_RUN");
        }
        switch (g->run->exit_reason) {
        case KVM_EXIT_IO:
            rc = handle_io(g, ops, opaque, &exited, &status, errp);
            break;
        case KVM_EXIT_MMIO:
            rc = handle_mmio(g, ops, opaque, errp);
            break;
        default:
            rc = unexpected_exit(g, errp);
            break;
        }
    }
    if (rc == 0 && status != 0) {
        error_setg_errno(errp, EPROTO, "KVM guest exit status %llu (port 0x%x)",
                         (unsigned long long)status, MX_KVM_EXIT_PORT);
        rc = -EPROTO;
    }
    return rc;
}

int mx_kvm_guest_run(MxKvmGuest *g, MxDomain *d, const GuestBackendOps *ops, void *opaque,
                     Error **errp)
{
    if (!g->image || !ops->ioreq) {
        error_setg_errno(errp, EINVAL, "KVM guest run without %s",
                         g->image ? "an ioreq op" : "an image");
        return -EINVAL;
    }
    int rc = attach_memory(g, d, errp);
    if (rc == 0) {
        memcpy(g->ram + MX_KVM_LOAD_ADDR, g->image, g->image_len);
        mx_kvm_params_write(g->params, g->nparams, g->ram + MX_KVM_PARAM_ADDR);
        rc = set_start_state(g, errp);
    }
    return rc ? rc : run_loop(g, ops, opaque, errp);
}
