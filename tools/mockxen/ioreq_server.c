/*
 * tools/mockxen/ioreq_server.c — ioreq servers as Xen keeps them: creation with their
 * ioreq pages and event channel ports, enable/disable, port/MMIO/PCI rangesets, the
 * resource frames a device model maps, and routing an access to the server that claims
 * it (Xen's ioreq_server_select, including the 0xcf8/0xcfc PCI config decode).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tools/mockxen/mockxen.h"
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>

#define PCI_CF8_ENABLED  0x80000000u
#define PCI_CONFIG_DATA  0xcfc

static const char *const range_names[MX_NR_RANGE_TYPES] = { "port", "memory", "pci" };

const char *mx_range_type_name(uint32_t type)
{
    return type < MX_NR_RANGE_TYPES ? range_names[type] : "?";
}

static MxIoreqServer *lookup_locked(MxDomain *d, uint16_t id, Error **errp)
{
    if (id < MX_MAX_SERVERS && d->servers[id].used)
        return &d->servers[id];
    error_setg_errno(errp, ENOENT, "no ioreq server %u in domain %u", id, d->domid);
    return NULL;
}

static void free_ports_locked(MxDomain *d, MxIoreqServer *s)
{
    for (unsigned v = 0; v < d->nr_vcpus; v++)
        if (s->vcpu_port[v])
            mx_port_free_locked(d, s->vcpu_port[v]);
    if (s->buf_port)
        mx_port_free_locked(d, s->buf_port);
}

static int alloc_ports_locked(MxDomain *d, MxIoreqServer *s, Error **errp)
{
    for (unsigned v = 0; v < d->nr_vcpus; v++) {
        s->vcpu_port[v] = mx_port_alloc_locked(d, d->vcpus[v].wake_fd);
        if (!s->vcpu_port[v])
            goto full;
        s->ioreq_page->vcpu_ioreq[v].vp_eport = s->vcpu_port[v];
    }
    if (s->bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF) {
        s->buf_port = mx_port_alloc_locked(d, d->sink_fd);
        if (!s->buf_port)
            goto full;
    }
    return 0;
full:
    free_ports_locked(d, s);
    error_setg_errno(errp, ENOSPC, "no free event channel ports for a new ioreq server");
    return -ENOSPC;
}

int mx_server_create(MxDomain *d, uint8_t bufioreq, uint16_t *id, Error **errp)
{
    if (d->arch == MX_ARCH_ARM && bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF) {
        /* ioreq_server_create: no buffered ring outside x86 */
        error_setg_errno(errp, EINVAL, "create ioreq server: an Arm domain has no buffered "
                         "ioreq ring (handle_bufioreq %u)", bufioreq);
        return -EINVAL;
    }
    if (bufioreq > HVM_IOREQSRV_BUFIOREQ_ATOMIC) {
        error_setg_errno(errp, EINVAL, "create ioreq server: handle_bufioreq %u", bufioreq);
        return -EINVAL;
    }
    pthread_mutex_lock(&d->lock);
    unsigned i = 0;
    while (i < MX_MAX_SERVERS && d->servers[i].used)
        i++;
    if (i == MX_MAX_SERVERS) {
        pthread_mutex_unlock(&d->lock);
        error_setg_errno(errp, ENOSPC, "create ioreq server: all %u servers in use",
                         MX_MAX_SERVERS);
        return -ENOSPC;
    }
    MxIoreqServer *s = &d->servers[i];
    uint32_t generation = s->generation + 1;
    memset(s, 0, sizeof(*s));
    s->generation = generation;
    s->bufioreq = bufioreq;
    s->bufioreq_gfn = d->special_gfn + 2 * i;
    s->ioreq_gfn = s->bufioreq_gfn + 1;
    s->buf_page = (buffered_iopage_t *)(d->ram + (s->bufioreq_gfn << MX_PAGE_SHIFT));
    s->ioreq_page = (shared_iopage_t *)(d->ram + (s->ioreq_gfn << MX_PAGE_SHIFT));
    memset(s->buf_page, 0, MX_PAGE_SIZE);
    memset(s->ioreq_page, 0, MX_PAGE_SIZE);
    int rc = alloc_ports_locked(d, s, errp);
    if (rc == 0) {
        s->used = true;
        mx_domain_set_special(d, s->ioreq_gfn, true);
        if (bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF)
            mx_domain_set_special(d, s->bufioreq_gfn, true);
        *id = i;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* Wake every vCPU: one of them may be waiting on the server that changed. */
static void wake_vcpus(MxDomain *d)
{
    uint64_t one = 1;
    for (unsigned v = 0; v < d->nr_vcpus; v++)
        if (write(d->vcpus[v].wake_fd, &one, sizeof(one)) < 0)
            continue;   /* an eventfd write only fails on counter overflow */
}

static void destroy_locked(MxDomain *d, MxIoreqServer *s)
{
    free_ports_locked(d, s);
    mx_domain_set_special(d, s->ioreq_gfn, false);
    mx_domain_set_special(d, s->bufioreq_gfn, false);
    s->used = false;
    s->enabled = false;
    s->generation++;
}

int mx_server_destroy(MxDomain *d, uint16_t id, Error **errp)
{
    pthread_mutex_lock(&d->lock);
    MxIoreqServer *s = lookup_locked(d, id, errp);
    if (s)
        destroy_locked(d, s);
    pthread_mutex_unlock(&d->lock);
    if (s)
        wake_vcpus(d);
    return s ? 0 : -ENOENT;
}

int mx_server_info(MxDomain *d, uint16_t id, MxServerInfo *info, Error **errp)
{
    pthread_mutex_lock(&d->lock);
    MxIoreqServer *s = lookup_locked(d, id, errp);
    if (s)
        *info = (MxServerInfo){ .ioreq_gfn = s->ioreq_gfn, .bufioreq_gfn = s->bufioreq_gfn,
                                .bufioreq_port = s->buf_port };
    pthread_mutex_unlock(&d->lock);
    return s ? 0 : -ENOENT;
}

int mx_server_set_state(MxDomain *d, uint16_t id, bool enabled, Error **errp)
{
    pthread_mutex_lock(&d->lock);
    MxIoreqServer *s = lookup_locked(d, id, errp);
    if (s)
        s->enabled = enabled;
    pthread_mutex_unlock(&d->lock);
    return s ? 0 : -ENOENT;
}

unsigned mx_server_count_enabled(MxDomain *d)
{
    unsigned n = 0;
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 0; i < MX_MAX_SERVERS; i++)
        n += d->servers[i].used && d->servers[i].enabled;
    pthread_mutex_unlock(&d->lock);
    return n;
}

static int change_range(MxDomain *d, uint16_t id, uint32_t type, uint64_t start,
                        uint64_t end, bool map, Error **errp)
{
    if (type >= MX_NR_RANGE_TYPES) {
        error_setg_errno(errp, EINVAL, "ioreq server %u: range type %u", id, type);
        return -EINVAL;
    }
    if (start > end) {
        error_setg_errno(errp, EINVAL, "ioreq server %u: %s range [0x%llx, 0x%llx] is empty",
                         id, range_names[type], (unsigned long long)start,
                         (unsigned long long)end);
        return -EINVAL;
    }
    const MxRefusal *refusal = map ? mx_refusal_find(d, type, start, end) : NULL;
    if (refusal) {
        error_setg_errno(errp, refusal->err, "ioreq server %u: map %s range [0x%llx, 0x%llx]: "
                         "refused (--refuse-range)", id, range_names[type],
                         (unsigned long long)start, (unsigned long long)end);
        return -refusal->err;
    }
    pthread_mutex_lock(&d->lock);
    int rc = -ENOENT;
    MxIoreqServer *s = lookup_locked(d, id, errp);
    if (s) {
        MxRangeSet *rs = &s->ranges[type];
        rc = map ? mx_rangeset_add(rs, start, end) : mx_rangeset_remove(rs, start, end);
        if (rc)
            error_setg_errno(errp, -rc, "ioreq server %u: %s %s range [0x%llx, 0x%llx]", id,
                             map ? "map" : "unmap", range_names[type],
                             (unsigned long long)start, (unsigned long long)end);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int mx_server_map_range(MxDomain *d, uint16_t id, uint32_t type, uint64_t start,
                        uint64_t end, Error **errp)
{
    return change_range(d, id, type, start, end, true, errp);
}

int mx_server_unmap_range(MxDomain *d, uint16_t id, uint32_t type, uint64_t start,
                          uint64_t end, Error **errp)
{
    return change_range(d, id, type, start, end, false, errp);
}

int mx_server_resource(MxDomain *d, uint16_t id, uint32_t frame, uint64_t nr_frames,
                       MxResourceReply *out, Error **errp)
{
    pthread_mutex_lock(&d->lock);
    int rc = -ENOENT;
    MxIoreqServer *s = lookup_locked(d, id, errp);
    if (s) {
        bool has_buf = s->bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF;
        if (frame > 1 || nr_frames == 0 || nr_frames > 2 - frame || (frame == 0 && !has_buf)) {
            error_setg_errno(errp, EINVAL, "ioreq server %u has no resource frames "
                             "[%u, +%llu)%s", id, frame, (unsigned long long)nr_frames,
                             has_buf ? "" : " (no buffered ring)");
            rc = -EINVAL;
        } else {
            out->gfn = s->bufioreq_gfn + frame;
            out->nr_frames = 2 - frame;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/*
 * The bytes an access covers, as Xen's ioreq_mmio_first_byte/last_byte: a rep access
 * with the direction flag set runs downwards from addr, so it covers
 * [addr - (count - 1) * size, addr + size - 1]. False if that leaves 64 bits.
 */
static bool access_bytes(const ioreq_t *req, uint64_t count, uint64_t *start, uint64_t *end)
{
    uint64_t size = req->size, span;
    if (size == 0 || count == 0 || __builtin_mul_overflow(size, count, &span))
        return false;
    if (req->df && count > 1)
        return !__builtin_sub_overflow(req->addr, span - size, start) &&
               !__builtin_add_overflow(req->addr, size - 1, end);
    *start = req->addr;
    return !__builtin_add_overflow(req->addr, span - 1, end);
}

int mx_route_locked(MxDomain *d, ioreq_t *req)
{
    uint32_t type;
    uint64_t start, end;

    if (req->type == IOREQ_TYPE_PIO && (req->addr & ~3ull) == PCI_CONFIG_DATA &&
        (d->pci_cf8 & PCI_CF8_ENABLED)) {
        type = XEN_DMOP_IO_RANGE_PCI;
        start = end = (d->pci_cf8 >> 8) & 0xffff;         /* segment 0, bus/dev/fn */
    } else if (req->type == IOREQ_TYPE_PIO) {
        type = XEN_DMOP_IO_RANGE_PORT;                    /* the port, whatever count */
        if (!access_bytes(req, 1, &start, &end))
            return -1;
    } else if (req->type == IOREQ_TYPE_COPY) {
        type = XEN_DMOP_IO_RANGE_MEMORY;
        if (!access_bytes(req, req->count, &start, &end))
            return -1;
    } else {
        return -1;
    }
    /* Newest first, as Xen's FOR_EACH_IOREQ_SERVER walks ids downwards: when two
     * servers claim the same place (Xen only refuses overlaps within one server's
     * rangeset), the one with the higher id gets the access. */
    for (unsigned i = MX_MAX_SERVERS; i-- > 0;) {
        MxIoreqServer *s = &d->servers[i];
        if (!s->used || !s->enabled || !mx_rangeset_contains(&s->ranges[type], start, end))
            continue;
        if (type == XEN_DMOP_IO_RANGE_PCI) {
            req->type = IOREQ_TYPE_PCI_CONFIG;
            req->addr = ((uint64_t)start << 32) | (d->pci_cf8 & 0xfc) | (req->addr & 3);
        }
        return i;
    }
    return -1;
}
