/*
 * tools/mockxen/kinds.h — every call kind mockxen counts, and the shared counter page.
 *
 * A "kind" is one exported library function (xendevicemodel_map_io_range_to_ioreq_server,
 * ...) or one daemon-side event (an ioreq sent by a guest vCPU, an event dropped, ...).
 * MX_KINDS lists them once; M(name, modelled) with modelled = 0 marks the functions
 * mockxen does not model: they count themselves and fail with ENOSYS.
 *
 * The MxStatsPage lives in a memfd created by the daemon and mapped by the daemon and by
 * every shim library (handed over by MX_OP_HELLO), so counting costs one atomic add and
 * no socket round trip. Fault injection lives in the same page: the daemon's command
 * line sets, per kind, "the Nth call fails with errno E" and "at the Nth call the daemon
 * is killed"; mx_stats_hit() applies both wherever the call is counted.
 */
#ifndef MOCKXEN_KINDS_H
#define MOCKXEN_KINDS_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#define MX_KINDS(M) \
    M(xc_interface_open, 1) \
    M(xc_interface_close, 1) \
    M(xc_domain_getinfo, 1) \
    M(xc_domain_getinfolist, 1) \
    M(xc_domain_populate_physmap_exact, 1) \
    M(xc_domain_decrease_reservation_exact, 1) \
    M(xc_hvm_param_get, 1) \
    M(xc_hvm_param_set, 1) \
    M(xc_get_hvm_param, 1) \
    M(xc_set_hvm_param, 1) \
    M(xc_domain_shutdown, 1) \
    M(xc_domain_bind_pt_pci_irq, 0) \
    M(xc_domain_iomem_permission, 0) \
    M(xc_domain_ioport_mapping, 0) \
    M(xc_domain_memory_mapping, 0) \
    M(xc_domain_unbind_msi_irq, 0) \
    M(xc_domain_unbind_pt_irq, 0) \
    M(xc_domain_update_msi_irq, 0) \
    M(xc_physdev_map_pirq, 0) \
    M(xc_physdev_map_pirq_msi, 0) \
    M(xc_physdev_unmap_pirq, 0) \
    M(xenforeignmemory_open, 1) \
    M(xenforeignmemory_close, 1) \
    M(xenforeignmemory_map, 1) \
    M(xenforeignmemory_map2, 1) \
    M(xenforeignmemory_unmap, 1) \
    M(xenforeignmemory_restrict, 1) \
    M(xenforeignmemory_map_resource, 1) \
    M(xenforeignmemory_unmap_resource, 1) \
    M(xenforeignmemory_resource_size, 1) \
    M(xendevicemodel_open, 1) \
    M(xendevicemodel_close, 1) \
    M(xendevicemodel_create_ioreq_server, 1) \
    M(xendevicemodel_get_ioreq_server_info, 1) \
    M(xendevicemodel_set_ioreq_server_state, 1) \
    M(xendevicemodel_destroy_ioreq_server, 1) \
    M(xendevicemodel_map_io_range_to_ioreq_server, 1) \
    M(xendevicemodel_unmap_io_range_from_ioreq_server, 1) \
    M(xendevicemodel_map_pcidev_to_ioreq_server, 1) \
    M(xendevicemodel_unmap_pcidev_from_ioreq_server, 1) \
    M(xendevicemodel_map_mem_type_to_ioreq_server, 0) \
    M(xendevicemodel_modified_memory, 1) \
    M(xendevicemodel_modified_memory_bulk, 1) \
    M(xendevicemodel_track_dirty_vram, 1) \
    M(xendevicemodel_set_isa_irq_level, 1) \
    M(xendevicemodel_set_pci_intx_level, 1) \
    M(xendevicemodel_set_pci_link_route, 0) \
    M(xendevicemodel_set_irq_level, 1) \
    M(xendevicemodel_inject_msi, 1) \
    M(xendevicemodel_inject_event, 0) \
    M(xendevicemodel_set_mem_type, 0) \
    M(xendevicemodel_pin_memory_cacheattr, 0) \
    M(xendevicemodel_relocate_memory, 0) \
    M(xendevicemodel_nr_vcpus, 1) \
    M(xendevicemodel_restrict, 1) \
    M(xendevicemodel_shutdown, 1) \
    M(xenevtchn_open, 1) \
    M(xenevtchn_fdopen, 0) \
    M(xenevtchn_close, 1) \
    M(xenevtchn_fd, 1) \
    M(xenevtchn_notify, 1) \
    M(xenevtchn_bind_unbound_port, 0) \
    M(xenevtchn_bind_interdomain, 1) \
    M(xenevtchn_bind_virq, 0) \
    M(xenevtchn_unbind, 1) \
    M(xenevtchn_pending, 1) \
    M(xenevtchn_unmask, 1) \
    M(xenevtchn_restrict, 1) \
    M(xengnttab_open, 1) \
    M(xengnttab_close, 1) \
    M(xengnttab_fd, 0) \
    M(xengnttab_set_max_grants, 0) \
    M(xengnttab_map_grant_ref, 1) \
    M(xengnttab_map_grant_refs, 1) \
    M(xengnttab_map_domain_grant_refs, 1) \
    M(xengnttab_map_grant_ref_notify, 0) \
    M(xengnttab_unmap, 1) \
    M(xengnttab_grant_copy, 0) \
    M(xengnttab_dmabuf_exp_from_refs, 0) \
    M(xengnttab_dmabuf_exp_wait_released, 0) \
    M(xengnttab_dmabuf_imp_to_refs, 0) \
    M(xengnttab_dmabuf_imp_release, 0) \
    M(xengntshr_open, 1) \
    M(xengntshr_close, 1) \
    M(xengntshr_fd, 0) \
    M(xengntshr_share_pages, 0) \
    M(xengntshr_share_page_notify, 0) \
    M(xengntshr_unshare, 0) \
    M(xentoolcore_restrict_all, 1) \
    /* daemon-side events */ \
    M(guest_ioreq, 1)            /* a synchronous ioreq sent to a device model */ \
    M(guest_bufioreq, 1)         /* a write queued on a buffered ring */ \
    M(guest_unclaimed, 1)        /* an access no ioreq server claimed */ \
    M(event_to_dm, 1)            /* an event delivered to a device model port */ \
    M(domain_crash, 1)           /* the device model broke the ioreq protocol */

enum MxKind {
#define MX_KIND_ENUM(name, modelled) MX_KIND_##name,
    MX_KINDS(MX_KIND_ENUM)
#undef MX_KIND_ENUM
    MX_KIND_NR
};

typedef struct MxStat {
    uint64_t calls;           /* atomically incremented by whoever counts the call */
    uint64_t fail_at;         /* if non-zero: call number fail_at fails with fail_errno */
    uint64_t die_at;          /* if non-zero: call number die_at kills the daemon */
    int32_t fail_errno;       /* 0 for kinds that "fail" by being dropped (event_to_dm) */
    uint32_t pad;
} MxStat;

#define MX_STATS_MAGIC 0x6d787374u  /* "mxst" */

typedef struct MxStatsPage {
    uint32_t magic;
    uint32_t nr_kinds;
    /* One-way messages the shims have sent or are sending (proto.h): each adds one
     * before it sends; the daemon counts those it has handled against it. */
    uint64_t oneway_sent;
    MxStat kind[MX_KIND_NR];
} MxStatsPage;

/*
 * Count one call of kind k. Returns 0 to go on, or the errno the call must fail with
 * (for event_to_dm: non-zero means "drop this event"). Kills the daemon when a die_at
 * point is reached, as the command line asked: daemon_pid is the daemon's pid as the
 * shim learnt it from the socket (SO_PEERCRED; the page itself is writable by every
 * client, so it carries no pid), 0 in the daemon itself, or -1 if unknown (no kill).
 */
static inline int mx_stats_hit(MxStatsPage *page, enum MxKind k, pid_t daemon_pid)
{
    MxStat *s = &page->kind[k];
    uint64_t n = __atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
    if (s->die_at && n == s->die_at) {
        if (daemon_pid > 0)
            kill(daemon_pid, SIGKILL);
        else if (daemon_pid == 0)
            raise(SIGKILL);
    }
    if (s->fail_at && n == s->fail_at)
        return s->fail_errno ? s->fail_errno : -1;
    return 0;
}

#endif
