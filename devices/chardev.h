/*
 * devices/chardev.h — byte streams between a device and the outside world.
 *
 * A Chardev is opened from a spec string by whoever creates the device and then owned
 * by the device (closed with it). Neither output nor input ever blocks the ioreq loop:
 * output that the fd does not take at once waits in a bounded buffer that the event
 * loop flushes, input is pulled by the event loop. Single-threaded.
 */
#ifndef XENDM_DEVICES_CHARDEV_H
#define XENDM_DEVICES_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/*
 * A byte stream between a device and the outside world. Specs:
 *   "null"               output discarded, no input
 *   "stdio"              output to stdout, input from stdin (a terminal is used as
 *                        it is: line-buffered and echoing, not switched to raw mode)
 *   "stdout"             output to stdout, no input
 *   "file:OUT[:IN]"      output to file OUT (truncated; a FIFO needs its reader
 *                        already), input read from IN if given
 *   "unix:PATH"          listens on unix socket PATH and serves one client at a time:
 *                        output goes to the client (dropped while none is connected or
 *                        the client does not keep up), input comes from it
 * Output never blocks the ioreq loop. A write goes to the fd at once if nothing is
 * queued; what the fd does not take now (a pipe nobody reads, a slow terminal) is
 * queued, up to 64 KiB, and the event loop polls chardev_poll_out_fd() for POLLOUT and
 * calls chardev_handle_writable() to flush it. Bytes that do not fit, or that a failed
 * output (a reader gone) cannot take, are dropped: counted (chardev_dropped_bytes) and
 * logged once. Our stdout is reopened through /proc/self/fd/1 to be made non-blocking
 * without touching the processes that share it; sockets are written with
 * MSG_DONTWAIT (their kernel buffer is the queue) and regular files as they are. The
 * program should ignore SIGPIPE. Input is pulled by the event loop: it polls
 * chardev_poll_fd() for POLLIN and calls chardev_handle_readable(), which feeds at
 * most as many bytes as the receiver can take. Both fds change over time (accepted
 * clients, EOF, an emptied queue), so the loop asks for them before every poll.
 */
typedef struct Chardev Chardev;

typedef struct ChardevReceiver {
    size_t (*can_receive)(void *opaque);    /* bytes the device can take now */
    void (*receive)(void *opaque, const uint8_t *buf, size_t len);
    void *opaque;
} ChardevReceiver;

Chardev *chardev_open(const char *spec, Error **errp);
/* Wrap existing descriptors (-1: none); the Chardev closes them when owned. The
 * output is set up as above (an fd not owned is reopened, not changed). On failure the
 * caller keeps both fds. */
Chardev *chardev_from_fds(int in_fd, int out_fd, bool owned, Error **errp);
void chardev_close(Chardev *chr);
void chardev_write(Chardev *chr, const uint8_t *buf, size_t len);
void chardev_set_receiver(Chardev *chr, const ChardevReceiver *rx);
/* The fd to poll for POLLIN now, or -1 when there is nothing to wait for. */
int chardev_poll_fd(const Chardev *chr);
/* Accept a client or feed input to the receiver. Returns bytes fed, or -errno. */
int chardev_handle_readable(Chardev *chr, Error **errp);
/* The fd to poll for POLLOUT now (output is queued), or -1. */
int chardev_poll_out_fd(const Chardev *chr);
/* Write what is queued, as much as the fd takes now (one system call). Returns bytes
 * written; a failed output drops the queue (counted), it is not an error. */
size_t chardev_handle_writable(Chardev *chr);
uint64_t chardev_dropped_bytes(const Chardev *chr);
#endif
