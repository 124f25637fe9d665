/*
 * xen/claims.c — where a secondary device model says, in xenstore, which bus-0 slots
 * and fixed MMIO windows it took, and checks that no other xendm beside the same main
 * device model took them first (xen_dm.h, "A secondary device model's claims").
 *
 * An entry is /local/domain/0/device-model/<domid>/xendm/<ioreq server id>/ with
 *   pid    the process, in decimal
 *   slots  the slots of its functions, "6 7" (decimal)
 *   mmio   its fixed windows, "0xfeb01000-0xfeb011ff ..." (inclusive, hexadecimal)
 *   state  "starting" until the server is enabled, then "running"
 * The ioreq server id is the key because Xen hands out each live id once per domain:
 * an entry under our own id is left over from a server that no longer exists, and is
 * replaced. Entries come from other dom0 processes, not the guest (it cannot write
 * under /local/domain/0), but are read as untrusted text all the same: what does not
 * parse is ignored with a warning. An entry whose pid is not running is ignored too:
 * after a restricted xendm stops, its entry stays (xenstore cannot be reached once the
 * handles are restricted) although its server is gone.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#define CLAIMS_TXN_ATTEMPTS 8   /* xenstore transactions lost to concurrent writers */
#define CLAIMS_PATH_MAX     256 /* longer entry names are not ours to read */

static void claims_dir(const XenDM *xd, char *buf, size_t len)
{
    snprintf(buf, len, "/local/domain/0/device-model/%u/xendm", xd->cfg.domid);
}

void xen_claims_entry_path(const XenDM *xd, char *buf, size_t len)
{
    snprintf(buf, len, "/local/domain/0/device-model/%u/xendm/%u", xd->cfg.domid,
             xd->ioservid);
}

int xen_claims_add_mmio(XenClaims *claims, uint64_t start, uint64_t end)
{
    if (claims->nr_mmio == XEN_CLAIMS_MAX_MMIO)
        return -E2BIG;
    claims->mmio[claims->nr_mmio].start = start;
    claims->mmio[claims->nr_mmio].end = end;
    claims->nr_mmio++;
    return 0;
}

/* ---- reading another instance's entry ---------------------------------------------- */

/* The value of dir/key in transaction t, NUL-terminated (free it), or NULL. */
static char *read_key(XenDM *xd, xs_transaction_t t, const char *dir, const char *key)
{
    char path[CLAIMS_PATH_MAX];
    unsigned len;
    if (snprintf(path, sizeof(path), "%s/%s", dir, key) >= (int)sizeof(path))
        return NULL;
    return xs_read(xd->xs, t, path, &len);
}

/* Is the entry's process gone? An unreadable pid counts as running (kept). */
static bool entry_process_gone(const char *pid_text, long *pid)
{
    char *end;
    *pid = pid_text ? strtol(pid_text, &end, 10) : 0;
    if (!pid_text || end == pid_text || *end || *pid <= 0)
        return false;
    return kill((pid_t)*pid, 0) < 0 && errno == ESRCH;
}

/* The slots listed in text as a bitmask; malformed words are skipped with a warning. */
static uint32_t parse_slots(const char *text, const char *dir)
{
    uint32_t slots = 0;
    char *copy = strdup(text ? text : ""), *save = NULL;
    for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w; w = strtok_r(NULL, " ", &save)) {
        char *end;
        unsigned long slot = strtoul(w, &end, 10);
        if (end == w || *end || slot > 31)
            log_warn("%s/slots: '%s' is not a slot: ignored", dir, w);
        else
            slots |= 1u << slot;
    }
    free(copy);
    return slots;
}

/* -EEXIST (errp set) if a window in text, of the entry in dir (pid: its process),
 * overlaps one of ours. */
static int check_windows(const XenClaims *ours, const char *text, const char *dir,
                         const char *pid, Error **errp)
{
    char *copy = strdup(text ? text : ""), *save = NULL;
    int ret = 0;
    for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w && ret == 0;
         w = strtok_r(NULL, " ", &save)) {
        uint64_t start, end;
        int used = 0;
        if (sscanf(w, "%" SCNx64 "-%" SCNx64 "%n", &start, &end, &used) != 2 ||
            w[used] || start > end) {
            log_warn("%s/mmio: '%s' is not a window: ignored", dir, w);
            continue;
        }
        for (unsigned i = 0; i < ours->nr_mmio && ret == 0; i++) {
            if (ours->mmio[i].start <= end && start <= ours->mmio[i].end) {
                error_setg(errp, "MMIO window 0x%" PRIx64 "-0x%" PRIx64 " overlaps 0x%" PRIx64
                           "-0x%" PRIx64 ", claimed by xendm pid %s (xenstore %s)",
                           ours->mmio[i].start, ours->mmio[i].end, start, end, pid, dir);
                ret = -EEXIST;
            }
        }
    }
    free(copy);
    return ret;
}

/* Compare our claims with the entry in dir: 0, or -EEXIST with errp naming it. */
static int check_entry(XenDM *xd, xs_transaction_t t, const char *dir, const XenClaims *ours,
                       Error **errp)
{
    char *pid_text = read_key(xd, t, dir, "pid");
    long pid;
    if (entry_process_gone(pid_text, &pid)) {
        log_warn("%s: xendm pid %ld is no longer running: its claims are ignored (had it "
                 "not stopped cleanly, its ioreq server keeps them until the domain ends)",
                 dir, pid);
        free(pid_text);
        return 0;
    }
    const char *shown = pid_text ? pid_text : "?";
    char *slots_text = read_key(xd, t, dir, "slots");
    uint32_t both = parse_slots(slots_text, dir) & ours->slots;
    free(slots_text);
    int ret = 0;
    if (both) {
        error_setg(errp, "PCI slot %d is already used by xendm pid %s (xenstore %s)",
                   __builtin_ctz(both), shown, dir);
        ret = -EEXIST;
    } else {
        char *mmio_text = read_key(xd, t, dir, "mmio");
        ret = check_windows(ours, mmio_text, dir, shown, errp);
        free(mmio_text);
    }
    free(pid_text);
    return ret;
}

/* ---- writing ours ------------------------------------------------------------------- */

static bool write_key(XenDM *xd, xs_transaction_t t, const char *dir, const char *key,
                      const char *value)
{
    char path[CLAIMS_PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, key) >= (int)sizeof(path))
        return false;
    return xs_write(xd->xs, t, path, value, (unsigned)strlen(value));
}

static bool write_entry(XenDM *xd, xs_transaction_t t, const XenClaims *c)
{
    char dir[128], pid[24], slots[32 * 3 + 1] = "", mmio[XEN_CLAIMS_MAX_MMIO * 40 + 1] = "";
    size_t n = 0;
    xen_claims_entry_path(xd, dir, sizeof(dir));
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    for (unsigned slot = 0; slot < 32; slot++)
        if (c->slots & (1u << slot))
            n += (size_t)snprintf(slots + n, sizeof(slots) - n, "%s%u", n ? " " : "", slot);
    n = 0;
    for (unsigned i = 0; i < c->nr_mmio; i++)
        n += (size_t)snprintf(mmio + n, sizeof(mmio) - n, "%s0x%" PRIx64 "-0x%" PRIx64,
                              n ? " " : "", c->mmio[i].start, c->mmio[i].end);
    xs_rm(xd->xs, t, dir);              /* a left-over entry of a server now gone */
    return write_key(xd, t, dir, "pid", pid) && write_key(xd, t, dir, "slots", slots) &&
           write_key(xd, t, dir, "mmio", mmio) && write_key(xd, t, dir, "state", "starting");
}

/* One attempt: check every other entry, write ours. 0 committed, -EAGAIN to retry. */
static int publish_once(XenDM *xd, const XenClaims *claims, Error **errp)
{
    char dir[96], ours[16], entry[CLAIMS_PATH_MAX - 16];
    claims_dir(xd, dir, sizeof(dir));
    snprintf(ours, sizeof(ours), "%u", xd->ioservid);
    xs_transaction_t t = xs_transaction_start(xd->xs);
    if (t == XBT_NULL) {
        int err = errno ? errno : EIO;
        error_setg_errno(errp, err, "cannot start a xenstore transaction");
        return -err;
    }
    unsigned n = 0;
    char **names = xs_directory(xd->xs, t, dir, &n);    /* NULL: no other instance */
    int ret = 0;
    for (unsigned i = 0; i < n && ret == 0; i++) {
        if (strcmp(names[i], ours) == 0)
            continue;
        if (snprintf(entry, sizeof(entry), "%s/%s", dir, names[i]) >= (int)sizeof(entry))
            log_warn("%s: an entry with a %zu-byte name: ignored", dir, strlen(names[i]));
        else
            ret = check_entry(xd, t, entry, claims, errp);
    }
    free(names);
    if (ret == 0 && !write_entry(xd, t, claims)) {
        ret = errno ? -errno : -EIO;
        error_setg_errno(errp, -ret, "cannot write %s/%s to xenstore", dir, ours);
    }
    if (!xs_transaction_end(xd->xs, t, ret < 0)) {
        if (ret == 0 && errno == EAGAIN)
            return -EAGAIN;
        if (ret == 0) {
            ret = errno ? -errno : -EIO;
            error_setg_errno(errp, -ret, "cannot commit %s/%s to xenstore", dir, ours);
        }
    }
    return ret;
}

int xen_dm_publish_claims(XenDM *xd, const XenClaims *claims, Error **errp)
{
    for (unsigned attempt = 0; attempt < CLAIMS_TXN_ATTEMPTS; attempt++) {
        int ret = publish_once(xd, claims, errp);
        if (ret != -EAGAIN) {
            xd->claims_published = ret == 0;
            return ret;
        }
    }
    error_setg_errno(errp, EAGAIN, "xenstore kept changing under the claims of domain %u "
                     "(%d attempts)", xd->cfg.domid, CLAIMS_TXN_ATTEMPTS);
    return -EAGAIN;
}

void xen_claims_remove(XenDM *xd)
{
    if (!xd->claims_published)
        return;
    char dir[128];
    xen_claims_entry_path(xd, dir, sizeof(dir));
    if (!xs_rm(xd->xs, XBT_NULL, dir))
        log_info("%s stays in xenstore (%s): the entry of a process that is gone is "
                 "ignored by the next xendm", dir, strerror(errno));
    xd->claims_published = false;
}
