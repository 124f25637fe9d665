/*
 * dm/privileges.c — giving up what xendm no longer needs: --chroot DIR and --runas
 * USER[:GROUP], as QEMU's -chroot and -runas (libxl's dm_restrict uses both).
 *
 * Dropping is the last start-up step: by then every Xen handle, file and socket xendm
 * will use is open (Xen checks access when a handle is opened, not per call), and the
 * handles are already restricted to the guest's domain. The order is chroot (needs
 * root), then supplementary groups, group, user (a user change first would forbid the
 * rest). Afterwards regaining root must fail; if it does not, start-up fails rather than
 * serve the guest with privileges the administrator asked to drop.
 *
 * The names are resolved while options are parsed, before anything else happens: with
 * /etc/passwd still reachable, and so that a typo stops xendm before Xen is touched.
 */
#include "dm/dm.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* A decimal id, or -1 if `s` is not one. */
static long parse_id(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return (*s && !*end && !errno && v >= 0 && v < (long)UINT32_MAX) ? v : -1;
}

static int resolve_group(const char *name, gid_t *gid, Error **errp)
{
    long id = parse_id(name);
    if (id >= 0) {
        *gid = (gid_t)id;
        return 0;
    }
    struct group *gr = getgrnam(name);
    if (!gr) {
        error_setg(errp, "unknown group '%s'", name);
        return -ENOENT;
    }
    *gid = gr->gr_gid;
    return 0;
}

int dm_resolve_runas(const char *spec, DmOptions *o, Error **errp)
{
    char user[256];
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (len == 0 || len >= sizeof(user)) {
        error_setg(errp, "bad user '%s' (expected USER or USER:GROUP)", spec);
        return -EINVAL;
    }
    memcpy(user, spec, len);
    user[len] = '\0';
    struct passwd *pw = getpwnam(user);
    long id = parse_id(user);
    if (!pw && id >= 0)
        pw = getpwuid((uid_t)id);
    if (!pw && id < 0) {
        error_setg(errp, "unknown user '%s'", user);
        return -ENOENT;
    }
    o->runas_uid = pw ? pw->pw_uid : (uid_t)id;
    o->runas_gid = pw ? pw->pw_gid : (gid_t)id;    /* a bare uid: the same gid */
    if (colon && resolve_group(colon + 1, &o->runas_gid, errp) < 0)
        return -ENOENT;
    o->runas = true;
    return 0;
}

int dm_set_chroot(const char *dir, DmOptions *o, Error **errp)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        error_setg_errno(errp, errno, "cannot use '%s' as the root directory", dir);
        return -ENOENT;
    }
    if (!S_ISDIR(st.st_mode)) {
        error_setg(errp, "'%s' is not a directory", dir);
        return -ENOTDIR;
    }
    o->chroot_dir = dir;
    return 0;
}

static int enter_chroot(const char *dir, Error **errp)
{
    if (chroot(dir) < 0 || chdir("/") < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot change the root directory to '%s'%s", dir,
                         err == EPERM ? " (xendm must start as root for --chroot)" : "");
        return -err;
    }
    return 0;
}

static int become(uid_t uid, gid_t gid, Error **errp)
{
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot become uid %u gid %u%s", (unsigned)uid,
                         (unsigned)gid,
                         err == EPERM ? " (xendm must start as root for --runas)" : "");
        return -err;
    }
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        error_setg(errp, "could regain root after becoming uid %u", (unsigned)uid);
        return -EPERM;
    }
    return 0;
}

int dm_drop_privileges(Dm *dm, Error **errp)
{
    const DmOptions *o = &dm->opts;
    if (o->chroot_dir) {
        int ret = enter_chroot(o->chroot_dir, errp);
        if (ret < 0)
            return ret;
    }
    if (o->runas) {
        int ret = become(o->runas_uid, o->runas_gid, errp);
        if (ret < 0)
            return ret;
    }
    if (o->chroot_dir || o->runas)
        log_info("running as uid %u gid %u, root directory %s", (unsigned)getuid(),
                 (unsigned)getgid(), o->chroot_dir ? o->chroot_dir : "/");
    return 0;
}
