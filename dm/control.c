/*
 * dm/control.c — the control socket (--control PATH): look into a running xendm, or
 * stop it, with tools/xendm-ctl (or anything that speaks a line over a Unix socket).
 *
 * Protocol: a client connects, sends one command line (at most CONTROL_LINE_MAX bytes,
 * ended by a newline or by shutting down its side) and reads the reply until the
 * server closes the connection. A reply that starts with "error: " is a failure.
 * Commands: help, stats, mtree, flatview, stop.
 *
 * The socket is created at start-up with mode 0600 (only xendm's user may connect)
 * and removed at exit. A file left at PATH by a process that is gone is replaced; a
 * PATH where something still listens is refused. Clients are served one at a time on
 * the event-loop thread, the thread that serves the guest: a client gets
 * CONTROL_TIMEOUT_MS to send its line and as long for each write of the reply, so a
 * stuck client costs the guest at most about twice that.
 */
#include "dm/dm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

#define CONTROL_LINE_MAX 256
#define CONTROL_TIMEOUT_MS 1000

static int control_address(const char *path, struct sockaddr_un *sa, Error **errp)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        error_setg(errp, "control socket path '%s' is longer than %zu bytes", path,
                   sizeof(sa->sun_path) - 1);
        return -ENAMETOOLONG;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

/* Something at the path: a socket nobody listens on any more is removed (0); anything
 * else is an error. */
static int remove_stale_socket(const struct sockaddr_un *sa, Error **errp)
{
    struct stat st;
    if (lstat(sa->sun_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        error_setg(errp, "'%s' exists and is not a socket", sa->sun_path);
        return -EEXIST;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot create a socket");
        return -err;
    }
    int rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
    int err = errno;
    close(probe);
    if (rc == 0) {
        error_setg(errp, "another process listens on '%s'", sa->sun_path);
        return -EADDRINUSE;
    }
    if (err != ECONNREFUSED || unlink(sa->sun_path) < 0) {
        err = err == ECONNREFUSED ? errno : err;
        error_setg_errno(errp, err, "cannot replace '%s'", sa->sun_path);
        return -err;
    }
    return 0;
}

static int bind_and_listen(int fd, const struct sockaddr_un *sa, Error **errp)
{
    mode_t old = umask(0177);           /* the socket is created 0600 */
    int rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
    if (rc == -EADDRINUSE) {
        rc = remove_stale_socket(sa, errp);
        if (rc < 0) {
            umask(old);
            return rc;
        }
        rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
    }
    umask(old);
    if (rc < 0) {
        error_setg_errno(errp, -rc, "cannot bind '%s'", sa->sun_path);
        return rc;
    }
    if (listen(fd, 4) < 0) {
        rc = -errno;
        error_setg_errno(errp, -rc, "cannot listen on '%s'", sa->sun_path);
        unlink(sa->sun_path);
        return rc;
    }
    return 0;
}

int dm_control_open(Dm *dm, Error **errp)
{
    dm->control_fd = -1;
    const char *path = dm->opts.control_path;
    if (!path)
        return 0;
    struct sockaddr_un sa;
    int rc = control_address(path, &sa, errp);
    if (rc < 0)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot create the control socket");
        return -err;
    }
    rc = bind_and_listen(fd, &sa, errp);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    dm->control_fd = fd;
    log_info("control socket at %s", path);
    return 0;
}

void dm_control_close(Dm *dm)
{
    if (dm->control_fd < 0)
        return;
    close(dm->control_fd);
    dm->control_fd = -1;
    unlink(dm->opts.control_path);
}

/* ---- one client ------------------------------------------------------------------- */

/* Read the command line into buf (NUL-terminated, newline stripped). 0 or -errno. */
static int read_command(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        len += (size_t)n;
        if (memchr(buf, '\n', len))
            break;
    }
    buf[len] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    else if (len == size - 1)
        return -EMSGSIZE;
    return 0;
}

static void write_all(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, text, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;                     /* the client left or stalled: drop the rest */
        text += n;
        len -= (size_t)n;
    }
}

static void reply_help(FILE *out)
{
    fputs("help      this list\n"
          "stats     counters, one \"name value\" per line (as --stats)\n"
          "mtree     the memory and I/O region trees\n"
          "flatview  the flat views of both address spaces\n"
          "stop      shut xendm down, undoing its start-up\n", out);
}

/* Write the reply to cmd into out. */
static void run_command(Dm *dm, const char *cmd, FILE *out)
{
    if (strcmp(cmd, "help") == 0) {
        reply_help(out);
    } else if (strcmp(cmd, "stats") == 0) {
        dm_print_stats(dm, out);
    } else if (strcmp(cmd, "mtree") == 0 && dm->as_ready) {
        mtree_print(out, &dm->as_mem);
        mtree_print(out, &dm->as_io);
    } else if (strcmp(cmd, "flatview") == 0 && dm->as_ready) {
        mtree_print_flatview(out, &dm->as_mem);
        mtree_print_flatview(out, &dm->as_io);
    } else if (strcmp(cmd, "stop") == 0) {
        log_info("control socket: stop");
        dm->stop = true;
        fputs("stopping\n", out);
    } else {
        fprintf(out, "error: unknown command '%.64s' (try 'help')\n", cmd);
    }
}

static void serve_client(Dm *dm, int fd)
{
    struct timeval tv = { .tv_sec = CONTROL_TIMEOUT_MS / 1000,
                          .tv_usec = (CONTROL_TIMEOUT_MS % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char cmd[CONTROL_LINE_MAX];
    int rc = read_command(fd, cmd, sizeof(cmd));
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        static const char no_memory[] = "error: out of memory\n";
        write_all(fd, no_memory, sizeof(no_memory) - 1);
        return;
    }
    if (rc == -EMSGSIZE)
        fprintf(out, "error: command longer than %d bytes\n", CONTROL_LINE_MAX - 1);
    else if (rc < 0)
        fprintf(out, "error: cannot read the command: %s\n", strerror(-rc));
    else
        run_command(dm, cmd, out);
    if (fclose(out) == 0)
        write_all(fd, text, len);
    free(text);
}

void dm_control_serve(Dm *dm)
{
    int fd = accept4(dm->control_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR)
            log_warn("control socket: accept failed: %s", strerror(errno));
        return;
    }
    serve_client(dm, fd);
    close(fd);
}
