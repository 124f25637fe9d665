/*
 * devices/chardev.c — character backends: where a UART's bytes go and come from.
 *
 * A Chardev is a pair of descriptors (input, output) plus, for "unix:", a listening
 * socket whose one accepted client becomes both. Input is pulled, never pushed: the
 * event loop polls chardev_poll_fd() and reads only what the receiver can take, so a
 * full UART FIFO leaves the bytes in the kernel instead of losing them.
 *
 * Output never waits. A write goes straight to the fd when nothing is queued; what the
 * fd does not take now is queued in a ring of CHARDEV_OUT_BUFFER bytes, which the event
 * loop flushes when the fd becomes writable (chardev_poll_out_fd); what does not fit
 * there is dropped, counted and logged once. The output fd is made non-blocking in a
 * way that touches nobody else (see chardev_prepare_output): a socket is written with
 * MSG_DONTWAIT, a pipe or terminal we did not open is reopened through /proc/self/fd
 * so that O_NONBLOCK applies to our own open file description only, and a regular
 * file needs nothing (it never waits for a reader).
 */
#include "devices/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

#define CHARDEV_READ_CHUNK 256

/* The ring size: bytes held for a reader that is slow, before dropping. */
#define CHARDEV_OUT_BUFFER (64u * 1024)

struct Chardev {
    int in_fd, out_fd;          /* -1: none; equal for a connected socket */
    bool close_in, close_out;   /* ours to close */
    bool out_is_socket;         /* send() with MSG_DONTWAIT | MSG_NOSIGNAL */
    bool in_eof;                /* input ended; stop offering in_fd */
    int listen_fd;              /* "unix:": -1 otherwise */
    char *socket_path;          /* "unix:": unlinked on close */
    ChardevReceiver rx;
    uint8_t *out_buf;           /* the output ring (NULL: output is never queued) */
    size_t out_head, out_len;   /* first queued byte, bytes queued */
    uint64_t dropped;
    bool drop_logged;
};

static Chardev *chardev_alloc(void)
{
    Chardev *chr = calloc(1, sizeof(*chr));
    if (!chr)
        return NULL;
    chr->in_fd = chr->out_fd = chr->listen_fd = -1;
    return chr;
}

/* A descriptor of our own for writing to fd without blocking: a new open file
 * description of the same pipe or terminal when fd is shared, a duplicate when fd is
 * ours but also the input fd (the loop polls input and output separately), or fd
 * itself. Returns it, or -1 when none could be had (errno set). */
static int chardev_private_output(int fd, int in_fd, bool owned)
{
    if (owned)
        return fd == in_fd ? dup(fd) : fd;
    char path[32];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

/*
 * Set up fd as the output; 0 or -errno, with nothing of fd's changed or kept on
 * failure. A pipe, FIFO or terminal gets O_NONBLOCK and the ring. O_NONBLOCK belongs to
 * the open file description, which a fd we did not open (our stdout) shares with
 * other processes, whose writes would then fail with EAGAIN: so such a fd is reopened
 * through /proc/self/fd, and only when that fails is the shared description switched,
 * with a warning. Regular files (which never wait for a reader) and sockets (written
 * with MSG_DONTWAIT; the kernel buffer is their queue) are used as they are.
 */
static int chardev_prepare_output(Chardev *chr, int fd, int in_fd, bool owned, Error **errp)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "chardev: cannot stat output fd %d", fd);
        return -err;
    }
    if (S_ISSOCK(st.st_mode) || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
        chr->out_fd = fd;
        chr->close_out = owned;
        chr->out_is_socket = S_ISSOCK(st.st_mode);
        return 0;
    }
    int out = chardev_private_output(fd, in_fd, owned);
    if (out < 0 && owned) {
        int err = errno;
        error_setg_errno(errp, err, "chardev: cannot duplicate fd %d", fd);
        return -err;
    }
    if (out < 0) {
        log_warn("chardev: cannot reopen output fd %d (%s): making it non-blocking for "
                 "every process that shares it", fd, strerror(errno));
        out = fd;
    }
    int err = 0, flags = fcntl(out, F_GETFL);
    if (flags < 0 || fcntl(out, F_SETFL, flags | O_NONBLOCK) < 0)
        err = errno;
    else if (!(chr->out_buf = malloc(CHARDEV_OUT_BUFFER)))
        err = ENOMEM;
    if (err) {
        error_setg_errno(errp, err, "chardev: cannot set up output fd %d", fd);
        if (out != fd)
            close(out);
        return -err;
    }
    chr->out_fd = out;
    chr->close_out = owned || out != fd;
    return 0;
}

/* On failure the caller keeps in_fd and out_fd. */
Chardev *chardev_from_fds(int in_fd, int out_fd, bool owned, Error **errp)
{
    Chardev *chr = chardev_alloc();
    if (!chr) {
        error_setg_errno(errp, ENOMEM, "cannot allocate chardev");
        return NULL;
    }
    if (out_fd >= 0 && chardev_prepare_output(chr, out_fd, in_fd, owned, errp) < 0) {
        free(chr);
        return NULL;
    }
    chr->in_fd = in_fd;
    chr->close_in = owned;
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
    /* O_NONBLOCK: a FIFO with no reader is an error now rather than a wait. */
    out_fd = open_or_fail(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, errp);
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
    chr->close_in = chr->close_out = true;
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

static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static ssize_t chardev_write_some(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (chr->out_is_socket)
        return send(chr->out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return write(chr->out_fd, buf, len);
}

/* len bytes will never be written: count them, and say so the first time. */
static void chardev_drop(Chardev *chr, size_t len, const char *why)
{
    chr->dropped += len;
    if (len == 0 || chr->drop_logged)
        return;
    chr->drop_logged = true;
    log_warn("chardev: output to fd %d %s: dropping bytes (counted; not logged again)",
             chr->out_fd, why);
}

/* The output failed for good (a reader gone, a disk full): a socket client is let go,
 * anything else stays and keeps failing, each byte counted as dropped. */
static void chardev_output_failed(Chardev *chr, int err, size_t len)
{
    char why[96];
    snprintf(why, sizeof(why), "failed (%s)", strerror(err));
    chardev_drop(chr, len + chr->out_len, why);
    chr->out_len = 0;
    if (chr->listen_fd >= 0)
        chardev_drop_client(chr);
}

/* Append what fits to the ring; returns the bytes taken. */
static size_t chardev_queue(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (!chr->out_buf)
        return 0;
    size_t room = CHARDEV_OUT_BUFFER - chr->out_len;
    size_t n = len < room ? len : room;
    size_t tail = (chr->out_head + chr->out_len) % CHARDEV_OUT_BUFFER;
    size_t first = n < CHARDEV_OUT_BUFFER - tail ? n : CHARDEV_OUT_BUFFER - tail;
    memcpy(chr->out_buf + tail, buf, first);
    memcpy(chr->out_buf, buf + first, n - first);
    chr->out_len += n;
    return n;
}

/* One write of everything queued (both halves of the ring). Returns bytes written. */
static size_t chardev_flush(Chardev *chr)
{
    if (chr->out_len == 0 || chr->out_fd < 0)
        return 0;
    size_t first = CHARDEV_OUT_BUFFER - chr->out_head;
    if (first > chr->out_len)
        first = chr->out_len;
    struct iovec iov[2] = {
        { chr->out_buf + chr->out_head, first },
        { chr->out_buf, chr->out_len - first },
    };
    ssize_t n = writev(chr->out_fd, iov, iov[1].iov_len ? 2 : 1);
    if (n < 0) {
        if (!would_block(errno))
            chardev_output_failed(chr, errno, 0);
        return 0;
    }
    chr->out_head = (chr->out_head + (size_t)n) % CHARDEV_OUT_BUFFER;
    chr->out_len -= (size_t)n;
    return (size_t)n;
}

void chardev_close(Chardev *chr)
{
    if (!chr)
        return;
    chardev_flush(chr);                 /* a last try; what is left is lost */
    if (chr->listen_fd >= 0) {
        chardev_drop_client(chr);
        close(chr->listen_fd);
        unlink(chr->socket_path);
    } else {
        if (chr->close_in && chr->in_fd >= 0)
            close(chr->in_fd);
        if (chr->close_out && chr->out_fd >= 0 && chr->out_fd != chr->in_fd)
            close(chr->out_fd);
    }
    free(chr->out_buf);
    free(chr->socket_path);
    free(chr);
}

void chardev_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (chr->out_fd < 0) {
        chr->dropped += len;            /* no output (null, no client): not news */
        return;
    }
    if (chr->out_len == 0) {            /* nothing queued: straight to the fd */
        ssize_t n = chardev_write_some(chr, buf, len);
        if (n < 0 && !would_block(errno)) {
            chardev_output_failed(chr, errno, len);
            return;
        }
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
    }
    len -= chardev_queue(chr, buf, len);
    chardev_drop(chr, len, "is not keeping up");
}

int chardev_poll_out_fd(const Chardev *chr)
{
    return chr->out_len > 0 ? chr->out_fd : -1;
}

size_t chardev_handle_writable(Chardev *chr)
{
    return chardev_flush(chr);
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
        if (would_block(errno))
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
        if (would_block(errno))
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
