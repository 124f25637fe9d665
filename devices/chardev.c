/*
 * devices/chardev.c — character backends: where a UART's bytes go and come from.
 *
 * A Chardev is a pair of descriptors (input, output) plus, for "unix:", a listening
 * socket whose one accepted client becomes both. Input is pulled, never pushed: the
 * event loop polls chardev_poll_fd() and reads only what the receiver can take, so a
 * full UART FIFO leaves the bytes in the kernel instead of losing them.
 */
#include "devices/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

#define CHARDEV_READ_CHUNK 256

struct Chardev {
    int in_fd, out_fd;          /* -1: none; equal for a connected socket */
    bool owned;                 /* close in_fd/out_fd on close */
    bool out_is_socket;         /* send() with MSG_DONTWAIT | MSG_NOSIGNAL */
    bool in_eof;                /* input ended; stop offering in_fd */
    int listen_fd;              /* "unix:": -1 otherwise */
    char *socket_path;          /* "unix:": unlinked on close */
    ChardevReceiver rx;
    uint64_t dropped;
};

static Chardev *chardev_alloc(void)
{
    Chardev *chr = calloc(1, sizeof(*chr));
    if (!chr)
        return NULL;
    chr->in_fd = chr->out_fd = chr->listen_fd = -1;
    return chr;
}

Chardev *chardev_from_fds(int in_fd, int out_fd, bool owned, Error **errp)
{
    Chardev *chr = chardev_alloc();
    if (!chr) {
        error_setg_errno(errp, ENOMEM, "cannot allocate chardev");
        return NULL;
    }
    chr->in_fd = in_fd;
    chr->out_fd = out_fd;
    chr->owned = owned;
    return chr;
}

static int open_or_fail(const char *path, int flags, Error **errp)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        error_setg_errno(errp, errno, "chardev: cannot open '%s'", path);
    return fd;
}

/* "file:OUT[:IN]" */
static Chardev *chardev_open_file(const char *arg, Error **errp)
{
    char *out_path = strdup(arg);
    if (!out_path) {
        error_setg_errno(errp, ENOMEM, "chardev: cannot copy '%s'", arg);
        return NULL;
    }
    char *in_path = strchr(out_path, ':');
    if (in_path)
        *in_path++ = '\0';
    Chardev *chr = NULL;
    int in_fd = -1, out_fd = -1;
    if (!*out_path || (in_path && !*in_path)) {
        error_setg(errp, "chardev: 'file:%s' needs file:OUT or file:OUT:IN", arg);
        goto out;
    }
    out_fd = open_or_fail(out_path, O_WRONLY | O_CREAT | O_TRUNC, errp);
    if (out_fd < 0)
        goto out;
    if (in_path) {
        in_fd = open_or_fail(in_path, O_RDONLY | O_NONBLOCK, errp);
        if (in_fd < 0)
            goto out;
    }
    chr = chardev_from_fds(in_fd, out_fd, true, errp);
out:
    if (!chr) {
        if (in_fd >= 0)
            close(in_fd);
        if (out_fd >= 0)
            close(out_fd);
    }
    free(out_path);
    return chr;
}

/* "unix:PATH": listen, serve one client at a time. A stale socket file is replaced;
 * any other existing file is an error. */
static Chardev *chardev_open_unix(const char *path, Error **errp)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
        error_setg(errp, "chardev: unix socket path '%s' is empty or longer than %zu bytes",
                   path, sizeof(sa.sun_path) - 1);
        return NULL;
    }
    strcpy(sa.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "chardev: cannot create unix socket for '%s'", path);
        return NULL;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
        error_setg_errno(errp, errno, "chardev: cannot listen on '%s'", path);
        close(fd);
        return NULL;
    }
    Chardev *chr = chardev_alloc();
    char *copy = strdup(path);
    if (!chr || !copy) {
        error_setg_errno(errp, ENOMEM, "chardev: cannot allocate for '%s'", path);
        free(chr);
        free(copy);
        close(fd);
        unlink(path);
        return NULL;
    }
    chr->listen_fd = fd;
    chr->socket_path = copy;
    chr->owned = true;
    chr->out_is_socket = true;
    return chr;
}

Chardev *chardev_open(const char *spec, Error **errp)
{
    if (strcmp(spec, "null") == 0)
        return chardev_from_fds(-1, -1, false, errp);
    if (strcmp(spec, "stdio") == 0)
        return chardev_from_fds(STDIN_FILENO, STDOUT_FILENO, false, errp);
    if (strcmp(spec, "stdout") == 0)
        return chardev_from_fds(-1, STDOUT_FILENO, false, errp);
    if (strncmp(spec, "file:", 5) == 0)
        return chardev_open_file(spec + 5, errp);
    if (strncmp(spec, "unix:", 5) == 0)
        return chardev_open_unix(spec + 5, errp);
    error_setg(errp, "chardev: unknown backend '%s' (null, stdio, stdout, file:OUT[:IN], "
               "unix:PATH)", spec);
    return NULL;
}

/* A connected client went away: back to listening. */
static void chardev_drop_client(Chardev *chr)
{
    if (chr->in_fd >= 0)
        close(chr->in_fd);
    chr->in_fd = chr->out_fd = -1;
}

void chardev_close(Chardev *chr)
{
    if (!chr)
        return;
    if (chr->listen_fd >= 0) {
        chardev_drop_client(chr);
        close(chr->listen_fd);
        unlink(chr->socket_path);
    } else if (chr->owned) {
        if (chr->in_fd >= 0)
            close(chr->in_fd);
        if (chr->out_fd >= 0 && chr->out_fd != chr->in_fd)
            close(chr->out_fd);
    }
    free(chr->socket_path);
    free(chr);
}

static ssize_t chardev_write_some(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (chr->out_is_socket)
        return send(chr->out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return write(chr->out_fd, buf, len);
}

void chardev_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    while (len > 0 && chr->out_fd >= 0) {
        ssize_t n = chardev_write_some(chr, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (chr->listen_fd >= 0 && n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                chardev_drop_client(chr);
            break;
        }
        buf += n;
        len -= (size_t)n;
    }
    chr->dropped += len;
}

void chardev_set_receiver(Chardev *chr, const ChardevReceiver *rx)
{
    chr->rx = rx ? *rx : (ChardevReceiver){ 0 };
}

static size_t chardev_room(const Chardev *chr)
{
    return chr->rx.can_receive ? chr->rx.can_receive(chr->rx.opaque) : 0;
}

int chardev_poll_fd(const Chardev *chr)
{
    if (chr->listen_fd >= 0 && chr->in_fd < 0)
        return chr->listen_fd;          /* accept a client even when nobody reads */
    if (chr->in_fd < 0 || chr->in_eof || chardev_room(chr) == 0)
        return -1;
    return chr->in_fd;
}

static int chardev_accept(Chardev *chr, Error **errp)
{
    int fd = accept4(chr->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        error_setg_errno(errp, errno, "chardev: accept on '%s' failed", chr->socket_path);
        return -errno;
    }
    chr->in_fd = chr->out_fd = fd;
    log_info("chardev: client connected on '%s'", chr->socket_path);
    return 0;
}

int chardev_handle_readable(Chardev *chr, Error **errp)
{
    if (chr->listen_fd >= 0 && chr->in_fd < 0)
        return chardev_accept(chr, errp);
    size_t room = chardev_room(chr);
    if (chr->in_fd < 0 || chr->in_eof || room == 0)
        return 0;
    uint8_t buf[CHARDEV_READ_CHUNK];
    ssize_t n = read(chr->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        int err = errno;
        if (chr->listen_fd >= 0) {          /* a broken client is not our failure */
            chardev_drop_client(chr);
            return 0;
        }
        error_setg_errno(errp, err, "chardev: read from fd %d failed", chr->in_fd);
        return -err;
    }
    if (n == 0) {
        if (chr->listen_fd >= 0)
            chardev_drop_client(chr);
        else
            chr->in_eof = true;
        return 0;
    }
    chr->rx.receive(chr->rx.opaque, buf, (size_t)n);
    return (int)n;
}

uint64_t chardev_dropped_bytes(const Chardev *chr)
{
    return chr->dropped;
}
