/*
 * tools/xendm-ctl.c — send one command to a running xendm's control socket (xendm
 * --control PATH) and print the reply; the protocol is described in dm/control.c.
 *
 *   xendm-ctl PATH COMMAND      COMMAND: help, stats, mtree, flatview, stop
 *
 * Exit status: 0 for a reply, 1 when the reply is an error ("error: ..."), 2 when
 * xendm cannot be reached or stops answering (REPLY_TIMEOUT_S).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_TIMEOUT_S 10

static int usage(FILE *out, int status)
{
    fprintf(out, "Usage: xendm-ctl PATH COMMAND\n"
                 "Send COMMAND to the xendm whose --control socket is PATH and print its\n"
                 "reply. Commands: help, stats, mtree, flatview, stop.\n");
    return status;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "xendm-ctl: socket path '%s' is too long\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "xendm-ctl: cannot connect to %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Copy the reply to stdout; 0 (1 if it is an error) or -1 when it could not be read. */
static int print_reply(int fd)
{
    char buf[4096];
    bool first = true, error = false;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "xendm-ctl: reading the reply: %s\n",
                    errno == EAGAIN ? "no answer in time" : strerror(errno));
            return -1;
        }
        if (first)
            error = n >= 7 && memcmp(buf, "error: ", 7) == 0;
        first = false;
        fwrite(buf, 1, (size_t)n, error ? stderr : stdout);
    }
    return error ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return usage(stdout, 0);
    if (argc != 3)
        return usage(stderr, 2);
    int fd = connect_to(argv[1]);
    if (fd < 0)
        return 2;
    char line[300];
    int len = snprintf(line, sizeof(line), "%s\n", argv[2]);
    if (len < 0 || (size_t)len >= sizeof(line) || write(fd, line, (size_t)len) != len) {
        fprintf(stderr, "xendm-ctl: cannot send '%s'\n", argv[2]);
        close(fd);
        return 2;
    }
    shutdown(fd, SHUT_WR);
    int rc = print_reply(fd);
    close(fd);
    return rc < 0 ? 2 : rc;
}
