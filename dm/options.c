/*
 * dm/options.c — the command line of xendm.
 */
#include "dm/dm.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/parse.h"

#define XENDM_VERSION "0.1.0"
/* --memory: the RAM block (4 GiB + the RAM above it) must fit the 1 TiB ram_addr space. */
#define MAX_MEMORY_MIB (1020ull << 10)

static void print_usage(FILE *out)
{
    fprintf(out,
"Usage: xendm --domid N [options]\n"
"\n"
"xendm is a Xen HVM device model: it runs as an ioreq server for domain N and emulates\n"
"the devices below. By default the machine has a 16550A UART at 0x3f8 (IRQ 4, output\n"
"on stdout) and the PCI test device at 00:03.0.\n"
"\n"
"Options:\n"
"  -d, --domid N              the guest domain to serve (required)\n"
"  -m, --memory MIB           guest RAM in MiB, laid out as Xen does: from 0 up to the\n"
"                             PCI hole, the rest from 4 GiB; default: the domain's\n"
"                             populated memory (give it for a populate-on-demand guest)\n"
"      --max-ram-below-4g BYTES\n"
"                             x86: where the PCI hole starts and RAM below 4 GiB ends (at\n"
"                             most 0xf0000000); default: what the toolstack wrote to\n"
"                             xenstore for xl's mmio_hole, else 0xf0000000\n"
"  -D, --device SPEC          add a device, e.g. uart,port=0x2f8,irq=3,chardev=file:out.txt\n"
"                             or virtio-blk-pci,file=/var/lib/xen/disk.img\n"
"                             (repeatable; see --list-devices)\n"
"      --no-defaults          do not create the default UART and test device\n"
"      --machine x86|arm      the guest's platform (default: this build's, %s):\n"
"                             arm has MMIO only, no PCI, GIC SPIs for interrupts\n"
"                             (irq=33 ...), no buffered ioreq ring, no default devices,\n"
"                             guest RAM from 1 GiB (and 8 GiB) as libxl puts it\n"
"      --xenstore-devices     serve the virtio devices libxl writes for the domain\n"
"                             (backend/virtio_disk and backend/virtio), following\n"
"                             them as they come and go\n"
"      --list-devices         list device types and their options, then exit\n"
"      --secondary            run beside the domain's main device model (QEMU): no\n"
"                             default devices, PCI devices need slot= (not 0 or 1),\n"
"                             no fixed I/O ports; claims published in xenstore,\n"
"                             the main model's state node left alone; stops when\n"
"                             the domain (its ioreq server) is gone\n"
"      --no-buffered-ioreqs   do not ask Xen for a buffered ioreq ring\n"
"      --legacy-ioreq-pages   map the ioreq pages through their guest frames instead\n"
"                             of xenforeignmemory_map_resource\n"
"      --log-dirty            report guest memory written by devices to Xen's\n"
"                             log-dirty machinery (xendevicemodel_modified_memory_bulk)\n"
"      --mapcache-bucket KIB  mapcache bucket size (power of two, 4 to 1048576;\n"
"                             default 1024)\n"
"      --mapcache-max MIB     mapped guest memory before eviction, at least one\n"
"                             bucket (default 32768)\n"
"      --no-restrict          keep the Xen handles unrestricted (for debugging)\n"
"      --runas USER[:GROUP]   once started, run as USER (name or uid) and GROUP\n"
"                             (default: USER's group); needs root\n"
"      --chroot DIR           once started, make DIR the root directory; needs root\n"
"      --sandbox on|off       once started, confine xendm (default on): own mount, IPC,\n"
"                             network and UTS namespaces (as root), resource limits,\n"
"                             and a seccomp filter; off for debugging\n"
"      --stats FILE           write counters to FILE at exit (it is created at start-up;\n"
"                             \"-\" for stderr)\n"
"      --control PATH         answer xendm-ctl on a Unix socket created at PATH (mode\n"
"                             0600): help, stats, mtree, flatview, stop\n"
"  -l, --log LEVEL            error, warn, info or debug (default warn; env XENDM_LOG)\n"
"  -h, --help                 show this help and exit\n"
"  -V, --version              show the version and exit\n"
"\n"
"Without Xen, run it against mockxen: LD_LIBRARY_PATH=<mockxen shim dir>\n"
"MOCKXEN_SOCKET=<socket> XENSTORED_PATH=<xenstore socket> xendm --domid N\n",
            dm_machine_default()->name);
}

/* parse_u64() for option `opt`, naming the option in the message. */
static int parse_option_u64(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
    Error *err = NULL;
    int rc = parse_u64(arg, max, out, &err);
    if (rc) {
        fprintf(stderr, "xendm: %s: %s\n", opt, error_get_pretty(err));
        error_free(err);
    }
    return rc;
}

enum {
    OPT_NO_DEFAULTS = 256, OPT_LIST_DEVICES, OPT_NO_BUFFERED, OPT_LEGACY_PAGES,
    OPT_LOG_DIRTY, OPT_MC_BUCKET, OPT_MC_MAX, OPT_STATS, OPT_NO_RESTRICT, OPT_CONTROL,
    OPT_RUNAS, OPT_CHROOT, OPT_SANDBOX, OPT_MAX_BELOW_4G, OPT_SECONDARY, OPT_MACHINE,
    OPT_XENSTORE_DEVICES,
};

static const struct option long_options[] = {
    { "domid", required_argument, NULL, 'd' },
    { "memory", required_argument, NULL, 'm' },
    { "max-ram-below-4g", required_argument, NULL, OPT_MAX_BELOW_4G },
    { "device", required_argument, NULL, 'D' },
    { "no-defaults", no_argument, NULL, OPT_NO_DEFAULTS },
    { "list-devices", no_argument, NULL, OPT_LIST_DEVICES },
    { "secondary", no_argument, NULL, OPT_SECONDARY },
    { "no-buffered-ioreqs", no_argument, NULL, OPT_NO_BUFFERED },
    { "legacy-ioreq-pages", no_argument, NULL, OPT_LEGACY_PAGES },
    { "log-dirty", no_argument, NULL, OPT_LOG_DIRTY },
    { "mapcache-bucket", required_argument, NULL, OPT_MC_BUCKET },
    { "mapcache-max", required_argument, NULL, OPT_MC_MAX },
    { "no-restrict", no_argument, NULL, OPT_NO_RESTRICT },
    { "stats", required_argument, NULL, OPT_STATS },
    { "control", required_argument, NULL, OPT_CONTROL },
    { "runas", required_argument, NULL, OPT_RUNAS },
    { "chroot", required_argument, NULL, OPT_CHROOT },
    { "sandbox", required_argument, NULL, OPT_SANDBOX },
    { "machine", required_argument, NULL, OPT_MACHINE },
    { "xenstore-devices", no_argument, NULL, OPT_XENSTORE_DEVICES },
    { "log", required_argument, NULL, 'l' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

/* Run check(arg) for option `opt`: 0, or -EINVAL with its message printed. */
static int option_checked(const char *opt, int (*check)(const char *, DmOptions *, Error **),
                          const char *arg, DmOptions *o)
{
    Error *err = NULL;
    if (check(arg, o, &err) == 0)
        return 0;
    fprintf(stderr, "xendm: %s: %s\n", opt, error_get_pretty(err));
    error_free(err);
    return -EINVAL;
}

/* --max-ram-below-4g: a number of bytes the RAM layout accepts as its split. */
static int set_max_below_4g(const char *arg, DmOptions *o, Error **errp)
{
    uint64_t v;
    int ret = parse_u64(arg, UINT64_MAX, &v, errp);
    if (ret == 0)
        ret = xen_ram_check_below_4g(v, errp);
    if (ret == 0)
        o->max_ram_below_4g = v;
    return ret;
}

/* Returns 0 to go on, 1 to exit successfully, -EINVAL on a bad option. */
static int apply_option(DmOptions *o, int c, const char *arg)
{
    uint64_t v;
    enum log_level level;
    switch (c) {
    case 'd':
        if (parse_option_u64("--domid", arg, 0x7fef, &v) < 0)  /* DOMID_FIRST_RESERVED - 1 */
            return -EINVAL;
        o->domid = (uint32_t)v;
        o->have_domid = true;
        return 0;
    case 'm':
        if (parse_option_u64("--memory", arg, MAX_MEMORY_MIB, &v) < 0)
            return -EINVAL;
        o->memory_mib = v;
        return 0;
    case OPT_MAX_BELOW_4G: return option_checked("--max-ram-below-4g", set_max_below_4g, arg, o);
    case 'D':
        if (o->nr_devices == DM_MAX_DEVICES) {
            fprintf(stderr, "xendm: at most %d --device options\n", DM_MAX_DEVICES);
            return -EINVAL;
        }
        o->devices[o->nr_devices++] = arg;
        return 0;
    case OPT_NO_DEFAULTS: o->no_defaults = true; return 0;
    case OPT_SECONDARY: o->secondary = o->no_defaults = true; return 0;
    case OPT_NO_BUFFERED: o->buffered_ioreqs = false; return 0;
    case OPT_LEGACY_PAGES: o->legacy_ioreq_pages = true; return 0;
    case OPT_LOG_DIRTY: o->log_dirty = true; return 0;
    case OPT_NO_RESTRICT: o->restrict_handles = false; return 0;
    case OPT_STATS: o->stats_file = arg; return 0;
    case OPT_CONTROL: o->control_path = arg; return 0;
    case OPT_RUNAS: return option_checked("--runas", dm_resolve_runas, arg, o);
    case OPT_CHROOT: return option_checked("--chroot", dm_set_chroot, arg, o);
    case OPT_SANDBOX:
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
            fprintf(stderr, "xendm: --sandbox: expected on or off, not '%s'\n", arg);
            return -EINVAL;
        }
        o->sandbox = strcmp(arg, "on") == 0;
        return 0;
    case OPT_MACHINE:
        if (!(o->machine = dm_machine_find(arg))) {
            fprintf(stderr, "xendm: --machine: expected x86 or arm, not '%s'\n", arg);
            return -EINVAL;
        }
        return 0;
    case OPT_XENSTORE_DEVICES: o->xenstore_devices = true; return 0;
    case OPT_MC_BUCKET:
        if (parse_option_u64("--mapcache-bucket", arg, 1u << 20, &v) < 0)
            return -EINVAL;
        o->mapcache_bucket = v << 10;
        return 0;
    case OPT_MC_MAX:
        if (parse_option_u64("--mapcache-max", arg, 1u << 24, &v) < 0)
            return -EINVAL;
        o->mapcache_max = v << 20;
        return 0;
    case 'l':
        if (log_parse_level(arg, &level) < 0) {
            fprintf(stderr, "xendm: --log: unknown level '%s' (error, warn, info, debug)\n", arg);
            return -EINVAL;
        }
        log_set_level(level);
        return 0;
    case 'h': print_usage(stdout); return 1;
    case 'V': printf("xendm %s\n", XENDM_VERSION); return 1;
    case OPT_LIST_DEVICES: device_types_print(stdout); return 1;
    default:
        fprintf(stderr, "Try 'xendm --help'.\n");
        return -EINVAL;
    }
}

/* The mapcache's own limits, checked here so a bad value is named before Xen is touched
 * (0 means "the default" for both). */
static int check_mapcache_options(const DmOptions *o)
{
    uint64_t bucket = o->mapcache_bucket;
    if (bucket && ((bucket & (bucket - 1)) || bucket < MAPCACHE_PAGE_SIZE)) {
        fprintf(stderr, "xendm: --mapcache-bucket must be a power of two, at least %llu KiB\n",
                MAPCACHE_PAGE_SIZE >> 10);
        return -EINVAL;
    }
    if (bucket && o->mapcache_max && o->mapcache_max < bucket) {
        fprintf(stderr, "xendm: --mapcache-max must hold at least one bucket (%" PRIu64
                " KiB)\n", bucket >> 10);
        return -EINVAL;
    }
    return 0;
}

int dm_parse_options(int argc, char **argv, DmOptions *o)
{
    *o = (DmOptions){ .buffered_ioreqs = true, .restrict_handles = true, .sandbox = true,
                      .machine = dm_machine_default() };
    int c;
    optind = 0;     /* glibc: start afresh, also inside a cluster such as -hV left half read */
    while ((c = getopt_long(argc, argv, "d:m:D:l:hV", long_options, NULL)) != -1) {
        int ret = apply_option(o, c, optarg);
        if (ret != 0)
            return ret;
    }
    if (optind < argc) {
        fprintf(stderr, "xendm: unexpected argument '%s'\nTry 'xendm --help'.\n", argv[optind]);
        return -EINVAL;
    }
    if (!o->have_domid) {
        fprintf(stderr, "xendm: --domid is required\nTry 'xendm --help'.\n");
        return -EINVAL;
    }
    if (o->max_ram_below_4g && o->machine->ram_layout != DM_RAM_X86_HVM) {
        fprintf(stderr, "xendm: --max-ram-below-4g is for x86 guests: the %s machine's RAM "
                "banks are fixed\n", o->machine->name);
        return -EINVAL;
    }
    return check_mapcache_options(o);
}
