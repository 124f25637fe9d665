/* tools/mockxen/wire.c — framed messages with SCM_RIGHTS descriptors (see wire.h). */
#include "tools/mockxen/wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tools/mockxen/proto.h"

int mx_wire_send(int sock, const void *head, size_t head_len, const void *body,
                 size_t body_len, const int *fds, unsigned nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * MX_MSG_MAX_FDS)];
    } ctl;
    struct iovec iov[2] = {
        { .iov_base = (void *)head, .iov_len = head_len },
        { .iov_base = (void *)body, .iov_len = body_len },
    };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = body_len ? 2 : 1 };

    if (nfds > MX_MSG_MAX_FDS)
        return -EINVAL;
    if (nfds) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    while (msg.msg_iovlen) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EPIPE ? -ECONNRESET : -errno;
        }
        msg.msg_control = NULL;       /* descriptors go with the first chunk only */
        msg.msg_controllen = 0;
        while (msg.msg_iovlen && (size_t)n >= msg.msg_iov[0].iov_len) {
            n -= msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen) {
            msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + n;
            msg.msg_iov[0].iov_len -= n;
        }
    }
    return 0;
}

/* Take the descriptors of one received control message; close what does not fit. */
static void take_fds(struct msghdr *msg, int *fds, unsigned max_fds, unsigned *nfds)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        unsigned n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (unsigned i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (nfds && *nfds < max_fds)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }
}

int mx_wire_recv(int sock, void *buf, size_t len, int *fds, unsigned max_fds,
                 unsigned *nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * MX_MSG_MAX_FDS)];
    } ctl;
    size_t got = 0;

    if (nfds)
        *nfds = 0;
    while (got < len) {
        struct iovec iov = { .iov_base = (char *)buf + got, .iov_len = len - got };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? -errno : -ECONNRESET;
            for (unsigned i = 0; nfds && i < *nfds; i++)
                close(fds[i]);
            if (nfds)
                *nfds = 0;
            return err;
        }
        take_fds(&msg, fds, max_fds, nfds);
        got += n;
    }
    return 0;
}
