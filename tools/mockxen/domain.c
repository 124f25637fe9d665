/*
 * tools/mockxen/domain.c — the guest domain: RAM memfd, populated frames, HVM params,
 * log-dirty bitmap, crash state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tools/mockxen/mockxen.h"
#include "util/log.h"
#include "util/macros.h"

#define BITS_PER_BYTE 8u

static bool bit_test(const uint8_t *map, uint64_t bit)
{
    return __atomic_load_n(&map[bit / BITS_PER_BYTE], __ATOMIC_RELAXED) &
           (1u << (bit % BITS_PER_BYTE));
}

static void bit_set(uint8_t *map, uint64_t bit)
{
    __atomic_or_fetch(&map[bit / BITS_PER_BYTE], 1u << (bit % BITS_PER_BYTE),
                      __ATOMIC_RELAXED);
}

static void bit_clear(uint8_t *map, uint64_t bit)
{
    __atomic_and_fetch(&map[bit / BITS_PER_BYTE], ~(1u << (bit % BITS_PER_BYTE)),
                       __ATOMIC_RELAXED);
}

/* A memfd of `bytes` bytes mapped shared; -errno on failure. */
static int shared_memfd(const char *name, uint64_t bytes, int *fd_out, void **map_out,
                        Error **errp)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
        error_setg_errno(errp, errno, "memfd_create(%s)", name);
        return -errno;
    }
    if (ftruncate(fd, bytes) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "sizing %s to %llu bytes", name,
                         (unsigned long long)bytes);
        close(fd);
        return -err;
    }
    void *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int err = errno;
        error_setg_errno(errp, err, "mapping %s (%llu bytes)", name,
                         (unsigned long long)bytes);
        close(fd);
        return -err;
    }
    *fd_out = fd;
    *map_out = map;
    return 0;
}

static int create_vcpu_fds(MxDomain *d, Error **errp)
{
    for (unsigned v = 0; v < d->nr_vcpus; v++) {
        d->vcpus[v].wake_fd = eventfd(0, EFD_CLOEXEC);
        if (d->vcpus[v].wake_fd < 0) {
            error_setg_errno(errp, errno, "eventfd for vcpu %u", v);
            return -errno;
        }
    }
    d->sink_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->sink_fd < 0) {
        error_setg_errno(errp, errno, "eventfd for unwatched ports");
        return -errno;
    }
    return 0;
}

MxDomain *mx_domain_create(const MxDomainConfig *cfg, MxStatsPage *stats, Error **errp)
{
    if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > MX_MAX_VCPUS) {
        error_setg(errp, "domain needs 1..%u vcpus, not %u", MX_MAX_VCPUS, cfg->nr_vcpus);
        return NULL;
    }
    if (cfg->domid == 0 || cfg->domid >= DOMID_FIRST_RESERVED || cfg->max_gfn == 0 ||
        cfg->max_gfn >= (1ull << 36) || cfg->nr_refusals > MX_MAX_REFUSALS) {
        error_setg(errp, "bad domain config: domid %u, max_gfn 0x%llx", cfg->domid,
                   (unsigned long long)cfg->max_gfn);
        return NULL;
    }
    MxDomain *d = calloc(1, sizeof(*d));
    if (!d) {
        error_setg(errp, "out of memory for the domain");
        return NULL;
    }
    d->domid = cfg->domid;
    d->arch = cfg->arch;
    d->nr_vcpus = cfg->nr_vcpus;
    d->max_gfn = cfg->max_gfn;
    memcpy(d->refusals, cfg->refusals, sizeof(d->refusals));
    d->nr_refusals = cfg->nr_refusals;
    d->special_gfn = cfg->max_gfn + 1;
    d->nr_frames = d->special_gfn + MX_SPECIAL_FRAMES;
    d->bitmap_bytes = ((d->nr_frames + 7) / 8 + MX_PAGE_SIZE - 1) & ~(uint64_t)(MX_PAGE_SIZE - 1);
    d->ram_fd = d->bitmap_fd = d->sink_fd = -1;
    for (unsigned v = 0; v < MX_MAX_VCPUS; v++)
        d->vcpus[v].wake_fd = -1;
    d->stats = stats;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->irq_cond, NULL);
    pthread_cond_init(&d->oneway_cond, NULL);
    d->params[HVM_PARAM_IOREQ_SERVER_PFN] = d->special_gfn;
    d->params[HVM_PARAM_NR_IOREQ_SERVER_PAGES] = MX_SPECIAL_FRAMES;

    void *ram, *bitmap;
    if (shared_memfd("mockxen-ram", d->nr_frames << MX_PAGE_SHIFT, &d->ram_fd, &ram, errp) ||
        shared_memfd("mockxen-populated", d->bitmap_bytes, &d->bitmap_fd, &bitmap, errp) ||
        create_vcpu_fds(d, errp)) {
        mx_domain_destroy(d);
        return NULL;
    }
    d->ram = ram;
    d->populated = bitmap;
    d->dirty = calloc(1, d->bitmap_bytes);
    if (!d->dirty) {
        error_setg(errp, "out of memory for the dirty bitmap (%llu bytes)",
                   (unsigned long long)d->bitmap_bytes);
        mx_domain_destroy(d);
        return NULL;
    }
    return d;
}

void mx_domain_destroy(MxDomain *d)
{
    if (!d)
        return;
    mx_gnttab_fini(d);
    if (d->ram)
        munmap(d->ram, d->nr_frames << MX_PAGE_SHIFT);
    if (d->populated)
        munmap(d->populated, d->bitmap_bytes);
    int fds[] = { d->ram_fd, d->bitmap_fd, d->sink_fd };
    for (unsigned i = 0; i < ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    for (unsigned v = 0; v < MX_MAX_VCPUS; v++)
        if (d->vcpus[v].wake_fd >= 0)
            close(d->vcpus[v].wake_fd);
    free(d->dirty);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->irq_cond);
    pthread_cond_destroy(&d->oneway_cond);
    free(d);
}

int mx_domain_populate(MxDomain *d, const uint64_t *gfns, uint64_t nr, unsigned order,
                       Error **errp)
{
    if (order != 0) {
        error_setg_errno(errp, EINVAL, "populate: extent order %u (only 0 is modelled)",
                         order);
        return -EINVAL;
    }
    for (uint64_t i = 0; i < nr; i++) {
        if (gfns[i] > d->max_gfn) {
            error_setg_errno(errp, EINVAL, "populate: gfn 0x%llx above max_gfn 0x%llx",
                             (unsigned long long)gfns[i], (unsigned long long)d->max_gfn);
            return -EINVAL;
        }
    }
    pthread_mutex_lock(&d->lock);
    for (uint64_t i = 0; i < nr; i++) {
        if (!bit_test(d->populated, gfns[i])) {
            bit_set(d->populated, gfns[i]);
            d->nr_populated++;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return 0;
}

int mx_domain_depopulate(MxDomain *d, const uint64_t *gfns, uint64_t nr, unsigned order,
                         Error **errp)
{
    if (order != 0) {
        error_setg_errno(errp, EINVAL, "decrease_reservation: extent order %u (only 0 is "
                         "modelled)", order);
        return -EINVAL;
    }
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    for (uint64_t i = 0; i < nr && !rc; i++) {
        uint64_t gfn = gfns[i];
        if (gfn > d->max_gfn || !bit_test(d->populated, gfn)) {
            error_setg_errno(errp, EINVAL, "decrease_reservation: gfn 0x%llx is not populated "
                             "(%llu of %llu frames freed)", (unsigned long long)gfn,
                             (unsigned long long)i, (unsigned long long)nr);
            rc = -EINVAL;
            break;
        }
        bit_clear(d->populated, gfn);
        d->nr_populated--;
        /* Xen hands out a scrubbed page next time: drop the contents. */
        fallocate(d->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)(gfn << 12), 4096);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

MxRamLayout mx_ram_layout(uint32_t arch, uint64_t ram_bytes, uint64_t mmio_hole)
{
    bool arm = arch == MX_ARCH_ARM;
    uint64_t first_max = arm ? MX_ARM_RAM0_SIZE : MX_HIGH_RAM_BASE - mmio_hole;
    uint64_t first = ram_bytes < first_max ? ram_bytes : first_max;
    MxRamLayout l = { .base = { arm ? MX_ARM_RAM0_BASE : 0,
                                arm ? MX_ARM_RAM1_BASE : MX_HIGH_RAM_BASE },
                      .size = { first, ram_bytes - first } };
    l.frames_end = (l.size[1] ? l.base[1] + l.size[1] : l.base[0] + l.size[0]) >> MX_PAGE_SHIFT;
    return l;
}

/* Populate the nr frames from first, a batch at a time. */
static int populate_run(MxDomain *d, uint64_t first, uint64_t nr, Error **errp)
{
    uint64_t gfns[256];
    for (uint64_t done = 0; done < nr; done += ARRAY_SIZE(gfns)) {
        uint64_t n = nr - done < ARRAY_SIZE(gfns) ? nr - done : ARRAY_SIZE(gfns);
        for (uint64_t i = 0; i < n; i++)
            gfns[i] = first + done + i;
        int rc = mx_domain_populate(d, gfns, n, 0, errp);
        if (rc)
            return rc;
    }
    return 0;
}

int mx_domain_populate_ram(MxDomain *d, uint64_t ram_bytes, uint64_t mmio_hole, Error **errp)
{
    MxRamLayout l = mx_ram_layout(d->arch, ram_bytes, mmio_hole);
    int rc = 0;
    for (unsigned i = 0; i < ARRAY_SIZE(l.base) && rc == 0; i++)
        rc = populate_run(d, l.base[i] >> MX_PAGE_SHIFT, l.size[i] >> MX_PAGE_SHIFT, errp);
    return rc;
}

bool mx_domain_is_populated(const MxDomain *d, uint64_t gfn)
{
    return gfn < d->nr_frames && bit_test(d->populated, gfn);
}

void mx_domain_set_special(MxDomain *d, uint64_t gfn, bool present)
{
    if (present)
        bit_set(d->populated, gfn);
    else
        bit_clear(d->populated, gfn);
}

int mx_domain_param_get(MxDomain *d, uint32_t param, uint64_t *value, Error **errp)
{
    if (param >= HVM_NR_PARAMS) {
        error_setg_errno(errp, EINVAL, "hvm param %u out of range (< %u)", param,
                         HVM_NR_PARAMS);
        return -EINVAL;
    }
    pthread_mutex_lock(&d->lock);
    *value = d->params[param];
    pthread_mutex_unlock(&d->lock);
    return 0;
}

int mx_domain_param_set(MxDomain *d, uint32_t param, uint64_t value, Error **errp)
{
    if (param >= HVM_NR_PARAMS) {
        error_setg_errno(errp, EINVAL, "hvm param %u out of range (< %u)", param,
                         HVM_NR_PARAMS);
        return -EINVAL;
    }
    pthread_mutex_lock(&d->lock);
    d->params[param] = value;
    pthread_mutex_unlock(&d->lock);
    return 0;
}

/* Is [gpa, gpa+len) entirely populated guest RAM (not ioreq pages)? */
static int check_ram(MxDomain *d, uint64_t gpa, size_t len, Error **errp)
{
    uint64_t limit = (d->max_gfn + 1) << MX_PAGE_SHIFT;
    if (len == 0)
        return 0;
    if (gpa >= limit || len > limit - gpa) {
        error_setg_errno(errp, EFAULT, "guest access [0x%llx, +0x%zx) beyond RAM",
                         (unsigned long long)gpa, len);
        return -EFAULT;
    }
    for (uint64_t f = gpa >> MX_PAGE_SHIFT; f <= (gpa + len - 1) >> MX_PAGE_SHIFT; f++) {
        if (!bit_test(d->populated, f)) {
            error_setg_errno(errp, EFAULT, "guest access at 0x%llx: frame 0x%llx not populated",
                             (unsigned long long)gpa, (unsigned long long)f);
            return -EFAULT;
        }
    }
    return 0;
}

int mx_domain_read(MxDomain *d, uint64_t gpa, void *buf, size_t len, Error **errp)
{
    int rc = check_ram(d, gpa, len, errp);
    if (rc == 0)
        memcpy(buf, d->ram + gpa, len);
    return rc;
}

int mx_domain_write(MxDomain *d, uint64_t gpa, const void *buf, size_t len, Error **errp)
{
    int rc = check_ram(d, gpa, len, errp);
    if (rc == 0 && len) {
        memcpy(d->ram + gpa, buf, len);
        mx_domain_mark_dirty(d, gpa >> MX_PAGE_SHIFT,
                             ((gpa + len - 1) >> MX_PAGE_SHIFT) - (gpa >> MX_PAGE_SHIFT) + 1,
                             NULL);
    }
    return rc;
}

static int check_pfn_range(MxDomain *d, const char *what, uint64_t first, uint64_t nr,
                           Error **errp)
{
    if (first > d->max_gfn || nr > d->max_gfn + 1 - first) {
        error_setg_errno(errp, EINVAL, "%s: pfns [0x%llx, +0x%llx) beyond max_gfn 0x%llx",
                         what, (unsigned long long)first, (unsigned long long)nr,
                         (unsigned long long)d->max_gfn);
        return -EINVAL;
    }
    return 0;
}

int mx_domain_mark_dirty(MxDomain *d, uint64_t first_pfn, uint64_t nr, Error **errp)
{
    int rc = check_pfn_range(d, "mark dirty", first_pfn, nr, errp);
    if (rc)
        return rc;
    pthread_mutex_lock(&d->lock);
    if (d->log_dirty)
        for (uint64_t i = 0; i < nr; i++)
            bit_set(d->dirty, first_pfn + i);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

void mx_domain_set_log_dirty(MxDomain *d, bool enable)
{
    pthread_mutex_lock(&d->lock);
    if (enable && !d->log_dirty)
        memset(d->dirty, 0, d->bitmap_bytes);
    d->log_dirty = enable;
    pthread_mutex_unlock(&d->lock);
}

int mx_domain_dirty_bitmap(MxDomain *d, uint64_t first_pfn, uint64_t nr, bool clean,
                           unsigned long *bitmap, Error **errp)
{
    int rc = check_pfn_range(d, "dirty bitmap", first_pfn, nr, errp);
    if (rc)
        return rc;
    const unsigned bits = 8 * sizeof(unsigned long);
    pthread_mutex_lock(&d->lock);
    if (!d->log_dirty) {
        pthread_mutex_unlock(&d->lock);
        error_setg_errno(errp, EINVAL, "dirty bitmap: log-dirty mode is off");
        return -EINVAL;
    }
    for (uint64_t i = 0; i < nr; i++) {
        if (!bit_test(d->dirty, first_pfn + i))
            continue;
        bitmap[i / bits] |= 1ul << (i % bits);
        if (clean)
            bit_clear(d->dirty, first_pfn + i);
    }
    pthread_mutex_unlock(&d->lock);
    return 0;
}

__attribute__((format(printf, 2, 0)))
static void vcrash_locked(MxDomain *d, const char *fmt, va_list ap)
{
    if (d->crashed)
        return;
    vsnprintf(d->crash_reason, sizeof(d->crash_reason), fmt, ap);
    d->crashed = true;
    mx_stats_hit(d->stats, MX_KIND_domain_crash, 0);
    log_error("domain %u crashed: %s", d->domid, d->crash_reason);
    if (d->on_exception)
        d->on_exception(d->exception_opaque, d->domid);
    uint64_t one = 1;
    for (unsigned v = 0; v < d->nr_vcpus; v++)     /* wake every waiting vCPU */
        if (write(d->vcpus[v].wake_fd, &one, sizeof(one)) < 0)
            log_warn("waking vcpu %u: %m", v);
    pthread_cond_broadcast(&d->irq_cond);
}

void mx_domain_crash_locked(MxDomain *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vcrash_locked(d, fmt, ap);
    va_end(ap);
}

void mx_domain_crash(MxDomain *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&d->lock);
    vcrash_locked(d, fmt, ap);
    pthread_mutex_unlock(&d->lock);
    va_end(ap);
}

void mx_domain_shut_down(MxDomain *d, unsigned reason)
{
    pthread_mutex_lock(&d->lock);
    d->shutdown = true;
    d->shutdown_reason = reason;
    if (d->on_exception)
        d->on_exception(d->exception_opaque, d->domid);
    pthread_mutex_unlock(&d->lock);
    log_info("domain %u shut down by its device model, reason %u", d->domid, reason);
}

void mx_domain_on_exception(MxDomain *d, void (*fn)(void *opaque, uint32_t domid),
                            void *opaque)
{
    d->on_exception = fn;
    d->exception_opaque = opaque;
}

bool mx_domain_crashed(MxDomain *d)
{
    pthread_mutex_lock(&d->lock);
    bool crashed = d->crashed;
    pthread_mutex_unlock(&d->lock);
    return crashed;
}

void mx_domain_info(MxDomain *d, MxDomainInfo *info)
{
    pthread_mutex_lock(&d->lock);
    *info = (MxDomainInfo){
        .domid = d->domid, .max_vcpu_id = d->nr_vcpus - 1, .nr_online_vcpus = d->nr_vcpus,
        .shutdown_reason = d->shutdown_reason, .nr_pages = d->nr_populated,
        .max_pages = d->max_gfn + 1, .max_gfn = d->max_gfn, .shutdown = d->shutdown,
        .crashed = d->crashed, .hvm = 1,
    };
    pthread_mutex_unlock(&d->lock);
}
