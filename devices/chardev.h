/*
 * devices/chardev.h — byte streams between a device and the outside world.
 *
 * A Chardev is opened from a spec string by whoever creates the device and then owned
 * by the device (closed with it). Output never blocks the ioreq loop for sockets;
 * input is pulled by the event loop. Single-threaded.
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
 *   "file:OUT[:IN]"      output to file OUT (truncated), input read from IN if given
 *   "unix:PATH"          listens on unix socket PATH and serves one client at a time:
 *                        output goes to the client (dropped while none is connected or
 *                        the client does not keep up), input comes from it
 * Output never blocks the ioreq loop for sockets (bytes that do not fit are dropped
 * and counted); stdout and files are written with plain write(). The program should
 * ignore SIGPIPE. Input is pulled by the event loop: it polls chardev_poll_fd() for
 * POLLIN and calls chardev_handle_readable(), which feeds at most as many bytes as the
 * receiver can take. The fd changes over time (accepted clients, EOF), so the loop
 * asks for it before every poll.
 */
typedef struct Chardev Chardev;

typedef struct ChardevReceiver {
    size_t (*can_receive)(void *opaque);    /* bytes the device can take now */
    void (*receive)(void *opaque, const uint8_t *buf, size_t len);
    void *opaque;
} ChardevReceiver;

Chardev *chardev_open(const char *spec, Error **errp);
/* Wrap existing descriptors (-1: none); the Chardev closes them when owned. */
Chardev *chardev_from_fds(int in_fd, int out_fd, bool owned, Error **errp);
void chardev_close(Chardev *chr);
void chardev_write(Chardev *chr, const uint8_t *buf, size_t len);
void chardev_set_receiver(Chardev *chr, const ChardevReceiver *rx);
/* The fd to poll for POLLIN now, or -1 when there is nothing to wait for. */
int chardev_poll_fd(const Chardev *chr);
/* Accept a client or feed input to the receiver. Returns bytes fed, or -errno. */
int chardev_handle_readable(Chardev *chr, Error **errp);
uint64_t chardev_dropped_bytes(const Chardev *chr);
#endif
