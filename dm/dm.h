/*
 * dm/dm.h — the xendm program: options, the machine, start-up steps, the event loop.
 *
 * Start-up is an ordered list of steps (dm/startup.c), each logged; a failure stops the
 * list and the teardown runs the "down" half of exactly the steps that completed, in
 * reverse. The same teardown runs on SIGTERM/SIGINT and on fatal errors in the loop.
 * The Dm structure owns everything, its start-up bookkeeping included; it lives in
 * main() for the life of the process. Everything machine-specific is reached through
 * it: the memory model and xen/ are handed what they need, nothing through a global.
 */
#ifndef XENDM_DM_H
#define XENDM_DM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "mapcache/grant_dma.h"
#include "mapcache/mapcache.h"
#include "memory/memory.h"
#include "xen/xen_dm.h"

#define DM_MAX_DEVICES 16

/* dm/machines.c: what a guest platform has; one is chosen at start-up (--machine). */
typedef struct DmMachineDesc {
    const char *name, *help;
    bool port_io;                   /* an I/O port space (else devices get none) */
    bool pci;                       /* PCI bus 0 through 0xcf8/0xcfc */
    bool buffered_ioreqs;           /* Xen can give a buffered ioreq ring */
    bool irq_spi;                   /* device interrupts are GIC SPIs, not ISA lines */
    const char *const *default_devices;     /* unless --no-defaults */
    unsigned nr_default_devices;
    /* Where the toolstack may place a virtio-mmio window (0x200 bytes each) and which
     * interrupts it may give it (dm/xenstore_devices.c checks against these). */
    uint64_t virtio_mmio_base, virtio_mmio_size;
    unsigned virtio_irq_first, virtio_irq_last;
    /* Where the toolstack puts the guest's RAM (xen/ram_layout.c): x86's split around
     * the PCI hole below 4 GiB, which --max-ram-below-4g moves, or Arm's fixed banks. */
    enum { DM_RAM_X86_HVM, DM_RAM_ARM_BANKS } ram_layout;
} DmMachineDesc;
extern const DmMachineDesc dm_machine_x86, dm_machine_arm;
/* NULL for an unknown name. */
const DmMachineDesc *dm_machine_find(const char *name);
/* The build architecture's machine. */
const DmMachineDesc *dm_machine_default(void);

typedef struct DmOptions {
    uint32_t domid;
    bool have_domid;
    uint64_t memory_mib;            /* guest RAM in all; 0: ask the domain */
    uint64_t max_ram_below_4g;      /* bytes; 0: Xen's default (xen_ram_layout_compute);
                                       x86 only */
    const char *devices[DM_MAX_DEVICES];
    unsigned nr_devices;
    bool no_defaults;
    bool secondary;                 /* beside the main device model (dm/secondary.c) */
    bool legacy_ioreq_pages;
    bool buffered_ioreqs;
    bool log_dirty;
    uint64_t mapcache_bucket;       /* bytes; 0: default */
    uint64_t mapcache_max;          /* bytes; 0: default */
    const char *stats_file;
    const char *control_path;
    bool restrict_handles;
    const char *chroot_dir;         /* --chroot */
    bool runas;                     /* --runas: become runas_uid / runas_gid */
    uid_t runas_uid;
    gid_t runas_gid;
    bool sandbox;                   /* --sandbox: namespaces, limits, seccomp (dm/sandbox.c) */
    const DmMachineDesc *machine;   /* --machine */
    bool xenstore_devices;          /* --xenstore-devices (dm/xenstore_devices.c) */
} DmOptions;

typedef struct DmXsDevices DmXsDevices;

typedef struct Dm {
    DmOptions opts;
    unsigned steps_done;            /* start-up steps completed (dm/startup.c) */
    XenDM *xen;
    MapCache *mapcache;
    XenRam *xen_ram;                /* the backend of the machine's RAM */
    MemoryRegion system_memory, system_io;
    MemoryRegion ram;               /* the RAM block: ram_addr == guest physical */
    MemoryRegion ram_banks[XEN_RAM_MAX_BANKS];  /* its aliases in system_memory */
    bool ram_ready;
    AddressSpace as_mem, as_io;
    bool as_ready;
    GrantDma *grants;               /* grant_usage devices' DMA; NULL without xengnttab */
    IrqRouter irq;
    PciHost *pci;
    DeviceBoard board;              /* what devices are created on, also at run time */
    Device *devices[DM_MAX_DEVICES];    /* a removed device leaves its slot NULL */
    unsigned nr_devices;            /* slots in use, the NULL ones included */
    DmXsDevices *xsdev;             /* --xenstore-devices: the devices libxl describes */
    int xsdev_fd;                   /* what the loop polls for their watches, -1: none */
    DeviceWorkQueue work;           /* device work deferred to the next loop turn */
    DeviceLoop loop;                /* how devices reach `work` */
    int signal_fd;
    int loop_fd;                    /* the event loop's epoll set */
    FILE *stats_out;                /* --stats: opened at start-up, written at exit */
    int control_fd;                 /* --control: what the loop polls, -1: none */
    struct DmControl *control;      /* --control: the socket and its clients */
    int probe_fd;                   /* --secondary: the timer of the domain probe, -1: none */
    uint64_t loop_max_busy_ns;      /* longest stretch the event loop ran between waits */
    volatile bool stop;
    uint64_t stop_deadline_ns;      /* once stopping: the end of the requests' drain */
} Dm;

/* dm/options.c: parse argv; returns 0, 1 when the program should exit successfully
 * (--help, --version, --list-devices), or -EINVAL with the message printed. */
int dm_parse_options(int argc, char **argv, DmOptions *opts);

/* dm/startup.c */
int dm_start(Dm *dm, Error **errp);
void dm_stop(Dm *dm);

/* dm/machine.c: the guest-visible machine (address spaces, RAM, PCI, devices). */
int dm_machine_create(Dm *dm, Error **errp);
void dm_machine_destroy(Dm *dm);
/* A device added to the running machine from its option string, in one transaction
 * whose ranges Xen must take (else the device is removed again): its slot in
 * dm->devices, or -errno with errp set. A range already decoded by something else is
 * refused first. */
int dm_machine_add_device(Dm *dm, const char *spec, uint64_t base, uint64_t size,
                          Error **errp);
/* Destroy the device in `slot` (its regions leave the view, its fds the loop). */
void dm_machine_remove_device(Dm *dm, unsigned slot);

/* dm/xenstore_devices.c (--xenstore-devices): serve the virtio devices libxl writes
 * under backend/virtio_disk and backend/virtio for the domain. Two start-up steps:
 * start, once the machine is built, creates the devices described now (their images
 * opened before the sandbox) and answers each backend's state; watch, once the Xen
 * handles are restricted (which cuts the connections open then), opens the xenstore
 * connection the loop keeps and watches for changes. handle runs when xsdev_fd is
 * readable; stop closes every backend served (state Closed) and destroys its device. */
int dm_xsdev_start(Dm *dm, Error **errp);
int dm_xsdev_watch(Dm *dm, Error **errp);
void dm_xsdev_handle(Dm *dm);
void dm_xsdev_stop(Dm *dm);

/* dm/guest_ram.c: the guest's RAM in system memory, as Xen laid it out (a step of
 * dm_machine_create, inside its transaction); destroy is safe after a partial create. */
int dm_guest_ram_create(Dm *dm, Error **errp);
void dm_guest_ram_destroy(Dm *dm);

/* dm/event_loop.c: the loop's epoll set is made by a start-up step (nothing is
 * created once the sandbox is in place) and closed by its teardown; dm_run serves
 * until a signal or a fatal error. Returns 0 or -errno. */
int dm_loop_open(Dm *dm, Error **errp);
void dm_loop_close(Dm *dm);
int dm_run(Dm *dm, Error **errp);

/* dm/stats.c: counters as "name value" lines. The --stats file is opened at start-up
 * (so a bad path fails before the guest runs, and before the handles are restricted)
 * and written and closed at exit; "-" is stderr. */
int dm_stats_open(Dm *dm, Error **errp);
void dm_print_stats(Dm *dm, FILE *out);
void dm_write_stats(Dm *dm);
void dm_stats_close(Dm *dm);

/* dm/privileges.c: --runas and --chroot. The first two check an option's value and
 * store it while options are parsed; dm_drop_privileges is the last start-up step. */
int dm_resolve_runas(const char *spec, DmOptions *o, Error **errp);
int dm_set_chroot(const char *dir, DmOptions *o, Error **errp);
int dm_drop_privileges(Dm *dm, Error **errp);

/* dm/sandbox.c: the start-up steps that confine xendm (sandbox/sandbox.h), each
 * nothing with --sandbox off: namespaces before the machine starts threads, limits
 * before privileges are dropped, the seccomp filter last. */
int dm_enter_namespaces(Dm *dm, Error **errp);
int dm_set_limits(Dm *dm, Error **errp);
int dm_install_seccomp(Dm *dm, Error **errp);
/* dm/secondary.c: --secondary, beside the domain's main device model. share_bus is
 * called while the machine is built; claim (collect and publish the devices' places)
 * and probe_open (a timer, probe_fd) are start-up steps, nothing without --secondary;
 * the loop calls probe when probe_fd is readable: it sets dm->stop once the domain's
 * ioreq server is gone, and returns -errno (errp set) when it cannot tell. */
void dm_secondary_share_bus(Dm *dm);
int dm_secondary_claim(Dm *dm, Error **errp);
int dm_secondary_probe_open(Dm *dm, Error **errp);
void dm_secondary_probe_close(Dm *dm);
int dm_secondary_probe(Dm *dm, Error **errp);

/* dm/control.c: the --control socket (protocol in control.c). open is a start-up step
 * (no path: nothing to do). The loop polls control_fd and calls serve when it is
 * readable or when dm_control_timeout_ms (ms to the next client deadline, -1: none)
 * has passed; serve never blocks. */
typedef struct DmControl DmControl;
int dm_control_open(Dm *dm, Error **errp);
void dm_control_serve(Dm *dm);
int dm_control_timeout_ms(const Dm *dm);
void dm_control_close(Dm *dm);

/* dm/control_protocol.c: the protocol without the socket. A client's line is gathered
 * in a DmControlLine (zeroed for each connection) by dm_control_take(), which takes up
 * to n of the bytes the client sent (n == 0: it shut down its side) and returns true
 * once the line is complete or too long; dm_control_reply() then writes the reply
 * (running the command), after which the connection is over. */
#define DM_CONTROL_LINE_MAX 256
enum dm_control_line_state {
    DM_CONTROL_LINE_OPEN, DM_CONTROL_LINE_DONE, DM_CONTROL_LINE_TOO_LONG,
};
typedef struct DmControlLine {
    enum dm_control_line_state state;
    size_t len;
    char text[DM_CONTROL_LINE_MAX];     /* NUL-terminated */
} DmControlLine;
bool dm_control_take(DmControlLine *line, const char *bytes, size_t n);
void dm_control_reply(Dm *dm, const DmControlLine *line, FILE *out);

#endif
