/*
 * devices/uart16550.h — a 16550A UART (devices/uart16550.c): 8 I/O ports, registered
 * as device type "uart". The UART owns its Chardev and its region.
 */
#ifndef XENDM_DEVICES_UART16550_H
#define XENDM_DEVICES_UART16550_H

#include <stddef.h>
#include <stdint.h>

#include "devices/chardev.h"
#include "devices/irq.h"
#include "memory/memory.h"
#include "util/error.h"

typedef struct Uart16550 Uart16550;
#define UART16550_DEFAULT_PORT 0x3f8
#define UART16550_DEFAULT_IRQ  4
#define UART16550_FIFO_SIZE    16

/* Takes ownership of chr (may be NULL: output discarded, no input). */
Uart16550 *uart16550_new(IrqLine irq, Chardev *chr, Error **errp);
void uart16550_free(Uart16550 *uart);
MemoryRegion *uart16550_region(Uart16550 *uart);
/* The receive side, as the chardev calls it (also for tests). */
size_t uart16550_can_receive(void *uart);
void uart16550_receive(void *uart, const uint8_t *buf, size_t len);

#endif
