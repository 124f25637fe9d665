/*
 * tools/mockxen/main.c — the mockxen daemon: a mock Xen hypervisor for one HVM guest.
 *
 * It serves the shim libraries on $MOCKXEN_SOCKET (--socket), xenstore on --xenstore,
 * optionally starts the built-in null device model, and, given a guest script, runs it
 * once --device-models ioreq servers are enabled and (unless --no-dm-state) the main
 * device model has written "running" to /local/domain/0/device-model/<domid>/state.
 * Exit status: 0 if the script held and no protocol violation crashed the domain, 1
 * otherwise, 2 for usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/mockxen/backend.h"
#include "tools/mockxen/dm_ready.h"
#include "tools/mockxen/guest.h"
#include "tools/mockxen/kvm_guest.h"
#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/sockserver.h"
#include "tools/mockxen/stats.h"
#include "tools/mockxen/xs_server.h"
#include "util/log.h"
#include "util/parse.h"

typedef struct Options {
    const char *socket_path, *xenstore_path, *script, *query;
    const char *params[GUEST_MAX_VARS];     /* --param NAME=VALUE, for the script */
    unsigned nparams;
    const char *kvm_image;           /* --kvm-guest: vCPU 0 runs this image under KVM */
    MxDomainConfig dom;
    bool null_dm;
    bool have_mem_mb;                /* --mem-mb given: max_gfn is not grown to fit */
    bool dm_state;                   /* wait for the device-model state node (default) */
    unsigned device_models;          /* enabled ioreq servers the guest waits for */
    uint64_t populate_mb;
    uint64_t mmio_hole_mb;           /* --mmio-hole-mb; 0: the default hole */
    int ioreq_timeout_ms, start_timeout_ms;
    uint64_t buffered_start, buffered_end;
} Options;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: mockxen --socket PATH --xenstore PATH [options]\n"
        "       mockxen --query PATH [counters|counters-all|status|irqs|ranges|\n"
        "                             log-dirty on|off|dirty FIRST NR]\n"
        "  --domid N            guest domain id (default 1)\n"
        "  --arch x86|arm       the domain's kind (default x86); arm: MMIO only, no\n"
        "                       buffered ring, interrupts are SPIs (set_irq_level)\n"
        "  --vcpus N            vCPUs (default: what the script uses, at least 1)\n"
        "  --mem-mb N           guest-physical space in MiB (max_gfn; default 4096, or\n"
        "                       what --populate-mb needs)\n"
        "  --populate-mb N      populate N MiB of RAM as libxl does: x86, from 0 up to the\n"
        "                       PCI hole, the rest from 4 GiB; arm, up to 3 GiB from\n"
        "                       1 GiB, the rest from 8 GiB (sparse: untouched RAM is free)\n"
        "  --mmio-hole-mb N     x86: the PCI hole below 4 GiB, as xl's mmio_hole (256..3840;\n"
        "                       default 256: RAM below 4 GiB ends at 0xf0000000); also\n"
        "                       written to xenstore as libxl does (platform/mmio_hole_size)\n"
        "  --script FILE        run this guest script once the device model is ready\n"
        "  --param NAME=VALUE   the script's $NAME starts as VALUE (repeatable)\n"
        "  --kvm-guest IMAGE    instead, run this flat x86 image on vCPU 0 under KVM\n"
        "                       (exit status 77 if KVM is unavailable here); its\n"
        "                       --param NAME=V[,V...] go into its parameter page\n"
        "  --null-dm            start the built-in null device model\n"
        "  --ioreq-timeout MS   how long a vCPU waits for an answer (default 10000)\n"
        "  --start-timeout MS   how long to wait for the device model (default 30000)\n"
        "  --device-models N    the guest starts once N ioreq servers are enabled\n"
        "                       (default 1; at most %d)\n"
        "  --no-dm-state        do not wait for device-model/<domid>/state = running\n"
        "  --buffered A-B       writes in [A,B] use the buffered ring (default 0xa0000-0xbffff)\n"
        "  --fail KIND:N:ERRNO  the Nth call of KIND fails with ERRNO (repeatable)\n"
        "  --die-at KIND:N      the Nth call of KIND kills the daemon (repeatable)\n"
        "  --drop-event N       the Nth event towards a device model is lost\n"
        "  --refuse-range TYPE:START-END[:ERRNO]\n"
        "                       maps of port|memory|pci ranges overlapping START-END fail\n"
        "                       with ERRNO (default EPERM; repeatable)\n"
        "  --log LEVEL          error|warn|info|debug\n", MX_MAX_SERVERS);
}

static int parse_range(const char *s, uint64_t *start, uint64_t *end, Error **errp)
{
    char buf[64];
    const char *dash = strchr(s, '-');
    if (!dash || (size_t)(dash - s) >= sizeof(buf)) {
        error_setg(errp, "expected START-END");
        return -EINVAL;
    }
    memcpy(buf, s, dash - s);
    buf[dash - s] = '\0';
    int rc = parse_u64(buf, UINT64_MAX, start, errp);
    return rc ? rc : parse_u64(dash + 1, UINT64_MAX, end, errp);
}

/* Long options without a short form. */
enum { O_DOMID = 256, O_VCPUS, O_MEM, O_POPULATE, O_HOLE, O_TIMEOUT, O_START, O_BUF,
       O_FAIL, O_DIE, O_DROP, O_LOG, O_NULLDM, O_QUERY, O_KVM, O_REFUSE, O_PARAM, O_DMS,
       O_NO_DM_STATE, O_ARCH };

/* One option into opts (or stats, for faults). 0, or -errno with errp set. */
static int apply_option(Options *o, MxStats *stats, int opt, const char *arg, Error **errp)
{
    uint64_t v = 0;
    int rc = 0;
    enum log_level level;
    switch (opt) {
    case 's': o->socket_path = arg; break;
    case 'x': o->xenstore_path = arg; break;
    case 'S': o->script = arg; break;
    case O_DOMID:                           /* 1 .. DOMID_FIRST_RESERVED - 1 */
        rc = parse_u64(arg, DOMID_FIRST_RESERVED - 1, &v, errp);
        o->dom.domid = (uint32_t)v;
        break;
    case O_ARCH:
        if (strcmp(arg, "x86") != 0 && strcmp(arg, "arm") != 0) {
            error_setg(errp, "expected x86 or arm");
            rc = -EINVAL;
        }
        o->dom.arch = strcmp(arg, "arm") == 0 ? MX_ARCH_ARM : MX_ARCH_X86;
        break;
    case O_VCPUS: rc = parse_u64(arg, MX_MAX_VCPUS, &v, errp); o->dom.nr_vcpus = (unsigned)v; break;
    case O_MEM:
        rc = parse_u64(arg, 1u << 20, &v, errp);
        if (!rc && v == 0) {
            error_setg(errp, "the guest needs at least 1 MiB");
            rc = -EINVAL;
        }
        o->dom.max_gfn = (v << (20 - MX_PAGE_SHIFT)) - 1;
        o->have_mem_mb = true;
        break;
    case O_POPULATE: rc = parse_u64(arg, 1u << 20, &o->populate_mb, errp); break;
    case O_HOLE:                            /* the range xl accepts for mmio_hole */
        rc = parse_u64(arg, 3840, &o->mmio_hole_mb, errp);
        if (!rc && o->mmio_hole_mb < 256) {
            error_setg(errp, "the PCI hole is at least 256 MiB");
            rc = -EINVAL;
        }
        break;
    case O_TIMEOUT: rc = parse_u64(arg, UINT32_MAX, &v, errp); o->ioreq_timeout_ms = v; break;
    case O_START: rc = parse_u64(arg, UINT32_MAX, &v, errp); o->start_timeout_ms = v; break;
    case O_DMS:
        rc = parse_u64(arg, MX_MAX_SERVERS, &v, errp);
        if (!rc && v == 0) {
            error_setg(errp, "the guest needs at least one device model");
            rc = -EINVAL;
        }
        o->device_models = (unsigned)v;
        break;
    case O_NO_DM_STATE: o->dm_state = false; break;
    case O_BUF: rc = parse_range(arg, &o->buffered_start, &o->buffered_end, errp); break;
    case O_FAIL: rc = mx_stats_arm_fail(stats, arg, errp); break;
    case O_DIE: rc = mx_stats_arm_die(stats, arg, errp); break;
    case O_DROP: rc = mx_stats_arm_drop(stats, arg, errp); break;
    case O_REFUSE: rc = mx_refusal_add(&o->dom, arg, errp); break;
    case O_LOG:
        rc = log_parse_level(arg, &level);
        if (rc)
            error_setg(errp, "unknown log level (error, warn, info, debug)");
        else
            log_set_level(level);
        break;
    case O_NULLDM: o->null_dm = true; break;
    case O_QUERY: o->query = arg; break;
    case O_KVM: o->kvm_image = arg; break;
    case O_PARAM:
        if (o->nparams == GUEST_MAX_VARS) {
            error_setg(errp, "more than %d parameters", GUEST_MAX_VARS);
            rc = -E2BIG;
        } else {
            o->params[o->nparams++] = arg;
        }
        break;
    default: rc = -EINVAL; break;
    }
    return rc;
}

static uint64_t mmio_hole_bytes(const Options *o)
{
    return o->mmio_hole_mb ? o->mmio_hole_mb << 20 : MX_DEFAULT_MMIO_HOLE;
}

/* The guest-physical space --populate-mb needs: without --mem-mb max_gfn grows to fit
 * it; with --mem-mb it must already. 0, or 2 with the message printed. */
static int fit_ram(Options *o)
{
    if (o->dom.arch == MX_ARCH_ARM && o->mmio_hole_mb) {
        fprintf(stderr, "mockxen: --mmio-hole-mb is for x86 domains: an Arm domain's RAM "
                "banks are fixed\n");
        return 2;
    }
    MxRamLayout l = mx_ram_layout(o->dom.arch, o->populate_mb << 20, mmio_hole_bytes(o));
    if (l.frames_end <= o->dom.max_gfn + 1)
        return 0;
    if (o->have_mem_mb) {
        fprintf(stderr, "mockxen: --populate-mb %llu needs --mem-mb %llu or more (RAM up to "
                "0x%llx)\n", (unsigned long long)o->populate_mb,
                (unsigned long long)(l.frames_end >> (20 - MX_PAGE_SHIFT)),
                (unsigned long long)(l.frames_end << MX_PAGE_SHIFT));
        return 2;
    }
    o->dom.max_gfn = l.frames_end - 1;
    return 0;
}

/* Parse argv into opts, arming faults in stats. 0, or 2 for a usage error. */
static int parse_options(int argc, char **argv, Options *o, MxStats *stats)
{
    static const struct option longopts[] = {
        { "socket", required_argument, NULL, 's' },
        { "xenstore", required_argument, NULL, 'x' },
        { "script", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { "domid", required_argument, NULL, O_DOMID },
        { "vcpus", required_argument, NULL, O_VCPUS },
        { "mem-mb", required_argument, NULL, O_MEM },
        { "populate-mb", required_argument, NULL, O_POPULATE },
        { "mmio-hole-mb", required_argument, NULL, O_HOLE },
        { "ioreq-timeout", required_argument, NULL, O_TIMEOUT },
        { "start-timeout", required_argument, NULL, O_START },
        { "device-models", required_argument, NULL, O_DMS },
        { "no-dm-state", no_argument, NULL, O_NO_DM_STATE },
        { "buffered", required_argument, NULL, O_BUF },
        { "fail", required_argument, NULL, O_FAIL },
        { "die-at", required_argument, NULL, O_DIE },
        { "drop-event", required_argument, NULL, O_DROP },
        { "refuse-range", required_argument, NULL, O_REFUSE },
        { "log", required_argument, NULL, O_LOG },
        { "null-dm", no_argument, NULL, O_NULLDM },
        { "query", required_argument, NULL, O_QUERY },
        { "kvm-guest", required_argument, NULL, O_KVM },
        { "param", required_argument, NULL, O_PARAM },
        { "arch", required_argument, NULL, O_ARCH },
        { 0 },
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "s:x:S:h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            exit(0);
        }
        if (opt == '?') {
            usage(stderr);
            return 2;
        }
        Error *err = NULL;
        if (apply_option(o, stats, opt, optarg, &err) != 0) {
            fprintf(stderr, "mockxen: bad argument '%s'%s%s\n", optarg ? optarg : "",
                    err ? ": " : "", err ? error_get_pretty(err) : "");
            error_free(err);
            return 2;
        }
    }
    if (!o->query && (!o->socket_path || !o->xenstore_path || optind != argc ||
                      (o->script && o->kvm_image) || (o->nparams && !o->script && !o->kvm_image))) {
        usage(stderr);
        return 2;
    }
    return o->query ? 0 : fit_ram(o);
}

/* Start the null device model next to this binary (mockxen-null-dm, or
 * $MOCKXEN_NULL_DM: under an emulator such as qemu-user, a wrapper that runs it there),
 * on the shims of build/shim (or $MOCKXEN_SHIM_DIR). */
static pid_t start_null_dm(const Options *o)
{
    char self[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    if (getenv("MOCKXEN_NULL_DM"))
        snprintf(path, sizeof(path), "%s", getenv("MOCKXEN_NULL_DM"));
    else
        snprintf(path, sizeof(path), "%s/mockxen-null-dm", self);
    pid_t pid = fork();
    if (pid == 0) {
        char domid[16];
        snprintf(domid, sizeof(domid), "%u", o->dom.domid);
        char shims[PATH_MAX + 32];
        snprintf(shims, sizeof(shims), "%s/../../../shim", self);   /* build/<v>/tools/mockxen */
        setenv("LD_LIBRARY_PATH", getenv("MOCKXEN_SHIM_DIR") ? getenv("MOCKXEN_SHIM_DIR") : shims, 1);
        setenv("MOCKXEN_SOCKET", o->socket_path, 1);
        setenv("XENSTORED_PATH", o->xenstore_path, 1);
        execl(path, path, domid, (char *)NULL);
        fprintf(stderr, "mockxen: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    return pid;
}

static int run_guest(const Options *o, GuestScript *script, MxKvmGuest *kvm, XsServer *xs,
                     MxDomain *d, MxStats *stats)
{
    Error *err = NULL;
    MxBackend be = { .d = d, .stats = stats, .ioreq_timeout_ms = o->ioreq_timeout_ms,
                     .buffered_start = o->buffered_start, .buffered_end = o->buffered_end };
    MxDmReady ready = { .domid = o->dom.domid, .device_models = o->device_models,
                        .dm_state = o->dm_state, .timeout_ms = o->start_timeout_ms };
    int rc = mx_wait_dm_ready(d, xs, &ready, &err);
    if (rc == 0)
        rc = kvm ? mx_kvm_guest_run(kvm, d, &mx_backend_ops, &be, &err)
                 : guest_run(script, &mx_backend_ops, &be, &err);
    if (rc) {
        log_error("guest: %s", error_get_pretty(err));
        error_free(err);
    }
    return rc;
}

static int run_query(const Options *o, int argc, char **argv)
{
    Error *err = NULL;
    char *answer;
    char cmd[128] = "counters";
    for (int i = optind, used = 0; i < argc; i++) {      /* the words of the command */
        int n = snprintf(cmd + used, sizeof(cmd) - used, "%s%s", used ? " " : "", argv[i]);
        if (n < 0 || (size_t)(used += n) >= sizeof(cmd)) {
            fprintf(stderr, "mockxen: query command too long\n");
            return 2;
        }
    }
    if (mx_query(o->query, cmd, &answer, &err)) {
        fprintf(stderr, "mockxen: %s\n", error_get_pretty(err));
        error_free(err);
        return 1;
    }
    fputs(answer, stdout);
    free(answer);
    return 0;
}

static void wait_for_signal(void)
{
    sigset_t set;
    int sig;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    log_info("signal %d: shutting down", sig);
}

/* Everything the daemon runs, for start-up and an orderly shutdown. */
typedef struct Daemon {
    MxStats stats;
    GuestScript *script;
    MxKvmGuest *kvm;
    MxDomain *d;
    XsServer *xs;
    MxSockServer *sock;
    pid_t null_dm;
} Daemon;

/* Load the script and give its parameters their values (all must have one). */
static GuestScript *load_script(const Options *o, Error **errp)
{
    GuestScript *script = guest_script_load(o->script, errp);
    int rc = script ? 0 : -EINVAL;
    for (unsigned i = 0; rc == 0 && i < o->nparams; i++)
        rc = guest_script_set_param_text(script, o->params[i], errp);
    if (rc == 0)
        rc = guest_script_check_params(script, errp);
    if (rc) {
        guest_script_free(script);
        return NULL;
    }
    return script;
}

/* Load the guest, a script or a KVM image: 0, 2 (bad input) or MX_KVM_UNAVAILABLE_STATUS. */
static int load_guest(const Options *o, Daemon *dm)
{
    Error *err = NULL;
    int status = 0;
    if (o->script && !(dm->script = load_script(o, &err)))
        status = 2;
    else if (o->kvm_image && (!(dm->kvm = mx_kvm_guest_create(&err)) ||
                              mx_kvm_guest_load_image(dm->kvm, o->kvm_image, &err)))
        status = dm->kvm ? 2 : MX_KVM_UNAVAILABLE_STATUS;
    for (unsigned i = 0; status == 0 && dm->kvm && i < o->nparams; i++)
        if (mx_kvm_guest_add_param(dm->kvm, o->params[i], &err))
            status = 2;
    if (status) {
        fprintf(stderr, "mockxen: %s\n", error_get_pretty(err));
        error_free(err);
    }
    return status;
}

/* As libxl with xl's mmio_hole set: the hole's size in bytes, for hvmloader and the
 * device model, at /local/domain/<domid>/platform/mmio_hole_size. */
static int write_mmio_hole(const Options *o, XsServer *xs, Error **errp)
{
    if (!o->mmio_hole_mb)
        return 0;
    char path[64], value[32];
    snprintf(path, sizeof(path), "/local/domain/%u/platform/mmio_hole_size", o->dom.domid);
    snprintf(value, sizeof(value), "%llu", (unsigned long long)(o->mmio_hole_mb << 20));
    return xs_server_write(xs, path, value, errp);
}

/* The domain shut down or crashed: xenstore tells its @releaseDomain watchers. */
static void tell_xenstore(void *opaque, uint32_t domid)
{
    xs_server_domain_shut_down(opaque, domid);
}

/* Create the domain and start xenstore, the shim socket and the null DM. 0 or -1. */
static int start_services(const Options *o, Daemon *dm)
{
    Error *err = NULL;
    bool ok = (dm->d = mx_domain_create(&o->dom, dm->stats.page, &err)) &&
              xs_server_start(o->xenstore_path, &dm->xs, &err) == 0;
    if (ok)
        mx_domain_on_exception(dm->d, tell_xenstore, dm->xs);
    ok = ok && xs_server_add_domain(dm->xs, o->dom.domid, "guest", &err) == 0 &&
         mx_domain_populate_ram(dm->d, o->populate_mb << 20, mmio_hole_bytes(o), &err) == 0 &&
         write_mmio_hole(o, dm->xs, &err) == 0 &&
         mx_sockserver_start(o->socket_path, dm->d, &dm->stats, &dm->sock, &err) == 0;
    if (!ok) {
        fprintf(stderr, "mockxen: %s\n", error_get_pretty(err));
        error_free(err);
        return -1;
    }
    if (o->null_dm && (dm->null_dm = start_null_dm(o)) < 0)
        log_error("cannot start the null device model");
    return 0;
}

/* Stop the null DM, print the counters, release everything (NULL parts are skipped). */
static void stop_daemon(Daemon *dm)
{
    if (dm->null_dm > 0) {
        kill(dm->null_dm, SIGTERM);
        waitpid(dm->null_dm, NULL, 0);
    }
    fprintf(stderr, "mockxen: counters:\n");
    mx_stats_print(&dm->stats, stderr, false);
    mx_sockserver_stop(dm->sock);
    if (dm->d)
        mx_domain_on_exception(dm->d, NULL, NULL);
    xs_server_stop(dm->xs);
    mx_domain_destroy(dm->d);
    guest_script_free(dm->script);
    mx_kvm_guest_destroy(dm->kvm);
    mx_stats_destroy(&dm->stats);
}

int main(int argc, char **argv)
{
    Options o = { .dom = { .domid = 1, .max_gfn = (4096ull << 8) - 1 },
                  .dm_state = true, .device_models = 1,
                  .ioreq_timeout_ms = 10000, .start_timeout_ms = 30000,
                  .buffered_start = 0xa0000, .buffered_end = 0xbffff };
    Daemon dm = { .stats = { .fd = -1 }, .null_dm = -1 };
    Error *err = NULL;
    log_set_level(LOG_WARN);
    if (mx_stats_create(&dm.stats, &err)) {
        fprintf(stderr, "mockxen: %s\n", error_get_pretty(err));
        error_free(err);
        return 1;
    }
    int rc = parse_options(argc, argv, &o, &dm.stats);
    if (rc == 0 && !o.query)
        rc = load_guest(&o, &dm);
    if (rc || o.query) {
        guest_script_free(dm.script);
        mx_kvm_guest_destroy(dm.kvm);
        mx_stats_destroy(&dm.stats);
        return rc ? rc : run_query(&o, argc, argv);
    }
    if (!o.dom.nr_vcpus)
        o.dom.nr_vcpus = dm.script && guest_script_nr_vcpus(dm.script)
                             ? guest_script_nr_vcpus(dm.script) : 1;
    if (!dm.script && !dm.kvm) {       /* SIGINT/SIGTERM are taken by sigwait() only */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }
    int status = 1;
    if (start_services(&o, &dm) == 0) {
        if (dm.script || dm.kvm) {
            status = run_guest(&o, dm.script, dm.kvm, dm.xs, dm.d, &dm.stats) ? 1 : 0;
        } else {
            wait_for_signal();
            status = 0;
        }
        if (mx_domain_crashed(dm.d))
            status = 1;
    }
    stop_daemon(&dm);
    return status;
}
