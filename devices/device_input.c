/*
 * devices/device_input.c — how the event loop reaches a device's input (a UART's
 * chardev): through the optional poll_fd/handle_readable of its type.
 */
#include "devices/device.h"

int device_poll_fd(Device *dev)
{
    return dev->type->poll_fd ? dev->type->poll_fd(dev) : -1;
}

int device_handle_readable(Device *dev, Error **errp)
{
    return dev->type->handle_readable ? dev->type->handle_readable(dev, errp) : 0;
}
