/*
 * devices/device_output.c — how the event loop reaches a device's queued output (a
 * UART's chardev whose reader is slow): through the optional poll_out_fd and
 * handle_writable of its type.
 */
#include "devices/device.h"

int device_poll_out_fd(Device *dev)
{
    return dev->type->poll_out_fd ? dev->type->poll_out_fd(dev) : -1;
}

void device_handle_writable(Device *dev)
{
    if (dev->type->handle_writable)
        dev->type->handle_writable(dev);
}
