/*
 * tests/mockxen-client/mxclient.c — a tiny client of the REAL Xen library APIs, built
 * against Debian's libraries and run against mockxen's shims (LD_LIBRARY_PATH), used by
 * the integration tests. It is not xendm: each subcommand exercises one group of calls
 * and checks what mockxen answers, or plays a (possibly misbehaving) device model.
 *
 *   mxclient check GROUP DOMID     run one group of call checks; exit 0 if all held
 *   mxclient dm MODE DOMID         act as a device model until SIGTERM
 *   mxclient expect-errno CALL ERRNO DOMID   call once, require failure with ERRNO
 *   mxclient expect-hangup ERRNO DOMID       wait for the daemon to go; require
 *                                            xenevtchn_pending() to fail with ERRNO
 *   mxclient destroy-server ID DOMID         destroy ioreq server ID, as Xen does to
 *                                            every server when the domain is destroyed
 *
 * Failures are printed as "# mxclient: ..." lines on stderr.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xendevicemodel.h>

#include "tests/mockxen-client/mxclient.h"
#include "util/macros.h"

static int failures;

void mxc_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "# mxclient: %s:%d: %s (errno %d: %s)\n", file, line, what, errno,
            strerror(errno));
    failures++;
}

static const struct {
    const char *name;
    void (*run)(uint32_t domid);
} groups[] = {
    { "info", mxc_check_info },
    { "populate", mxc_check_populate },
    { "params", mxc_check_params },
    { "fmem", mxc_check_fmem },
    { "servers", mxc_check_servers },
    { "ranges", mxc_check_ranges },
    { "resource", mxc_check_resource },
    { "dirty", mxc_check_dirty },
    { "irq", mxc_check_irq },
    { "evtchn", mxc_check_evtchn },
    { "enosys", mxc_check_enosys },
    { "restrict", mxc_check_restrict },
};

static int usage(void)
{
    fprintf(stderr, "usage: mxclient check GROUP DOMID | dm MODE DOMID | "
                    "expect-errno CALL ERRNO DOMID | expect-hangup ERRNO DOMID | "
                    "destroy-server ID DOMID\n");
    return 2;
}

/* Another process's server: a device model's ioreq server vanishes under it. */
static int destroy_server(unsigned id, uint32_t domid)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    CHECK(dmod != NULL);
    if (!dmod)
        return 1;
    CHECK(xendevicemodel_destroy_ioreq_server(dmod, domid, (ioservid_t)id) == 0);
    xendevicemodel_close(dmod);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    uint32_t domid = strtoul(argv[argc - 1], NULL, 0);
    if (strcmp(argv[1], "check") == 0 && argc == 4) {
        for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
            if (strcmp(groups[i].name, argv[2]) == 0) {
                groups[i].run(domid);
                return failures ? 1 : 0;
            }
        }
        return usage();
    }
    if (strcmp(argv[1], "dm") == 0 && argc == 4)
        return mxc_run_dm(argv[2], domid);
    if (strcmp(argv[1], "expect-errno") == 0 && argc == 5)
        return mxc_expect_errno(argv[2], atoi(argv[3]), domid);
    if (strcmp(argv[1], "expect-hangup") == 0 && argc == 4)
        return mxc_expect_hangup(atoi(argv[2]), domid) || failures ? 1 : 0;
    if (strcmp(argv[1], "destroy-server") == 0 && argc == 4)
        return destroy_server((unsigned)atoi(argv[2]), domid);
    return usage();
}
