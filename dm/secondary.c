/*
 * dm/secondary.c — xendm beside the domain's main device model (--secondary).
 *
 * The main device model (QEMU, started by libxl) owns the chipset: the host bridge at
 * 00:00.0 and the ISA bridge at 00:01.x of a PC, the legacy ports, 0xcf8, guest RAM.
 * A secondary xendm adds only its own devices and takes nothing else:
 *   - bus 0 is shared (pci_host_share_bus): every PCI function names its slot, and
 *     slots 0 and 1 are refused;
 *   - once the machine is built, and before its ioreq server is enabled, the places
 *     its devices took are collected from the address spaces (BARs are not mapped yet:
 *     the guest has not run). A fixed I/O port range is refused; the slots and the
 *     fixed MMIO windows are published in xenstore after checking the other instances'
 *     (xen_dm_publish_claims);
 *   - it never writes the main device model's state node (xen_dm_announce_running);
 *   - it stops by itself when the domain is gone. Once the handles are restricted
 *     (xentoolcore_restrict_all also cuts the xenstore connection) the one channel left
 *     is a dm_op on the domain, so a timer asks every DM_DOMAIN_PROBE_MS whether the
 *     ioreq server still exists: Xen destroys it with the domain.
 * Guest RAM is mapped for DMA as in the main device model (dm/machine.c), never
 * populated: it is the toolstack's region.
 */
#include "dm/dm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"

#define DM_DOMAIN_PROBE_MS 1000
/* The main device model's chipset on bus 0: the host bridge and the ISA bridge. */
#define MAIN_MODEL_SLOTS (1u << 0 | 1u << 1)

void dm_secondary_share_bus(Dm *dm)
{
    pci_host_share_bus(dm->pci, MAIN_MODEL_SLOTS);
}

/* ---- what the devices took ------------------------------------------------------------ */

typedef struct ClaimCollector {
    MemoryListener l;
    XenClaims *claims;
    const MemoryRegion *port_region;    /* the first fixed port range seen */
    uint64_t port_start, port_end;
    bool too_many;
} ClaimCollector;

/* The sections Xen would route to us: io regions and ROM devices (xen/xen_listener.c). */
static bool section_emulated(const MemoryRegionSection *s)
{
    return s->mr->kind == MR_KIND_IO || s->mr->kind == MR_KIND_ROM_DEVICE;
}

static uint64_t section_last(const MemoryRegionSection *s)
{
    MemSize last = (MemSize)s->offset_within_address_space + s->size - 1;
    return last > UINT64_MAX ? UINT64_MAX : (uint64_t)last;
}

static void collect_mmio(MemoryListener *l, MemoryRegionSection *s)
{
    ClaimCollector *c = container_of(l, ClaimCollector, l);
    if (section_emulated(s) &&
        xen_claims_add_mmio(c->claims, s->offset_within_address_space, section_last(s)) < 0)
        c->too_many = true;
}

static void collect_port(MemoryListener *l, MemoryRegionSection *s)
{
    ClaimCollector *c = container_of(l, ClaimCollector, l);
    if (section_emulated(s) && !c->port_region) {
        c->port_region = s->mr;
        c->port_start = s->offset_within_address_space;
        c->port_end = section_last(s);
    }
}

static int collect_claims(Dm *dm, XenClaims *claims, Error **errp)
{
    ClaimCollector c = { .claims = claims };
    c.l = (MemoryListener){ .region_add = collect_port, .name = "secondary-ports" };
    memory_listener_register(&c.l, &dm->as_io);
    memory_listener_unregister(&c.l);
    if (c.port_region) {
        error_setg(errp, "'%s' takes the fixed I/O ports 0x%" PRIx64 "-0x%" PRIx64 ": beside "
                   "the main device model xendm takes no fixed ports (they are the main "
                   "model's)", memory_region_name(c.port_region), c.port_start, c.port_end);
        return -EINVAL;
    }
    c.l = (MemoryListener){ .region_add = collect_mmio, .name = "secondary-mmio" };
    memory_listener_register(&c.l, &dm->as_mem);
    memory_listener_unregister(&c.l);
    if (c.too_many) {
        error_setg(errp, "more than %d fixed MMIO windows", XEN_CLAIMS_MAX_MMIO);
        return -E2BIG;
    }
    for (unsigned devfn = 0; devfn < 256; devfn++)
        if (pci_host_find_device(dm->pci, (uint8_t)devfn))
            claims->slots |= 1u << (devfn >> 3);
    return 0;
}

int dm_secondary_claim(Dm *dm, Error **errp)
{
    if (!dm->opts.secondary)
        return 0;
    XenClaims claims = { 0 };
    int ret = collect_claims(dm, &claims, errp);
    if (ret == 0)
        ret = xen_dm_publish_claims(dm->xen, &claims, errp);
    if (ret == 0)
        log_info("claimed slots 0x%08x and %u MMIO window(s) beside the main device model",
                 claims.slots, claims.nr_mmio);
    return ret;
}

/* ---- the domain's end --------------------------------------------------------------- */

int dm_secondary_probe_open(Dm *dm, Error **errp)
{
    if (!dm->opts.secondary)
        return 0;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct timespec period = { .tv_sec = DM_DOMAIN_PROBE_MS / 1000,
                               .tv_nsec = (DM_DOMAIN_PROBE_MS % 1000) * 1000000L };
    struct itimerspec spec = { .it_interval = period, .it_value = period };
    if (fd < 0 || timerfd_settime(fd, 0, &spec, NULL) < 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        error_setg_errno(errp, err, "cannot set up the timer that watches domain %u",
                         dm->opts.domid);
        return -err;
    }
    dm->probe_fd = fd;
    return 0;
}

void dm_secondary_probe_close(Dm *dm)
{
    if (dm->probe_fd >= 0)
        close(dm->probe_fd);
    dm->probe_fd = -1;
}

int dm_secondary_probe(Dm *dm, Error **errp)
{
    uint64_t expirations;
    if (read(dm->probe_fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
        return 0;
    Error *err = NULL;
    int ret = xen_ioreq_server_probe(dm->xen, &err);
    if (ret == -ENOENT || ret == -ESRCH) {
        log_info("domain %u has ended (%s): shutting down", dm->opts.domid,
                 error_get_pretty(err));
        error_free(err);
        dm->stop = true;
        return 0;
    }
    if (ret < 0) {
        error_propagate(errp, err);
        error_prepend(errp, "cannot tell whether domain %u still exists", dm->opts.domid);
    }
    return ret;
}
