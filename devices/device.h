/*
 * devices/device.h — device types, their registry, and creating devices by name.
 *
 * Each device type lives in one file and registers itself at start-up
 * (DEVICE_TYPE_REGISTER, a constructor in that file); dm/ creates instances by name
 * from an option string such as "uart,port=0x3f8,irq=4,chardev=stdio". A device's
 * state embeds a `Device` header, from which the type's callbacks get back to the
 * state with container_of.
 *
 * Ownership: device_create() returns a Device that the caller releases with
 * device_destroy(); the device owns its MemoryRegions, its IRQ line and its Chardev,
 * and removes its regions from the board's containers when destroyed. The board
 * (DeviceBoard) and everything it points to must outlive every device created on it.
 * Everything here is single-threaded: it runs on the ioreq loop's thread.
 *
 * Everything a guest can reach (register offsets, sizes, values, DMA parameters) is
 * hostile: it is checked, answered (all ones for refused reads) and, where useful,
 * logged with a rate limit; it never crashes the process.
 */
#ifndef XENDM_DEVICES_DEVICE_H
#define XENDM_DEVICES_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/irq.h"
#include "memory/memory.h"
#include "util/error.h"

typedef struct PciHost PciHost;

/*
 * Work a device defers to a coming turn of the event loop, so that one guest request
 * cannot keep the loop from serving the others: a device schedules a DeviceWork
 * (embedded in its state) and the loop runs it once after serving what is ready now.
 * The queue (devices/device_work.c) runs, per turn, only the work that was scheduled
 * before the turn began: work that schedules itself again runs on the next turn.
 */
typedef struct DeviceWork DeviceWork;
struct DeviceWork {
    void (*run)(DeviceWork *work);
    DeviceWork *next;               /* private: the queue's link */
    bool queued;                    /* private */
};

typedef struct DeviceWorkQueue {
    DeviceWork *head, **tail;
    DeviceWork *running;            /* what is left of the batch being run */
} DeviceWorkQueue;

void device_work_queue_init(DeviceWorkQueue *q);
/* Queue work (no-op if it is queued already). */
void device_work_schedule(DeviceWorkQueue *q, DeviceWork *work);
/* Take work off the queue if it is there. */
void device_work_cancel(DeviceWorkQueue *q, DeviceWork *work);
bool device_work_pending(const DeviceWorkQueue *q);
/* Run what is queued now, once each; returns how many ran. */
unsigned device_work_run(DeviceWorkQueue *q);

/* How devices reach the event loop's work queue (NULL in a DeviceBoard: the machine
 * has no loop, as in some tests, and deferred work runs at once). */
typedef struct DeviceLoop {
    DeviceWorkQueue *work;
} DeviceLoop;

/* Schedule on the loop, or run now when there is none. */
void device_loop_schedule(const DeviceLoop *loop, DeviceWork *work);
void device_loop_cancel(const DeviceLoop *loop, DeviceWork *work);

/* What the machine offers to the devices created on it. */
typedef struct DeviceBoard {
    MemoryRegion *system_memory;    /* root of the memory address space */
    MemoryRegion *system_io;        /* root of the I/O port address space */
    AddressSpace *dma_as;           /* where bus-master DMA goes */
    AddressSpace *grant_dma_as;     /* DMA of devices with grant_usage=1: grant addresses
                                       only (mapcache/grant_dma.h); NULL: not offered */
    const IrqRouter *irq;
    PciHost *pci;                   /* bus 0, or NULL when the machine has no PCI */
    bool irq_spi;                   /* a device's irq= is an Arm SPI (GIC id), not an
                                     * ISA line: the machine has a GIC, no ISA PIC */
    const DeviceLoop *loop;         /* deferred work; NULL: none (run at once) */
} DeviceBoard;

#define DEVICE_OPTS_MAX 16

/* A parsed "type,key=value,..." string. */
typedef struct DeviceOpts {
    char *type;
    unsigned count;
    struct { char *key, *value; } opt[DEVICE_OPTS_MAX];
    char *storage;              /* owned copy of the string the pointers point into */
} DeviceOpts;

typedef struct Device Device;

typedef struct DeviceType DeviceType;
struct DeviceType {
    const char *name;
    const char *help;               /* one line: options and their defaults */
    const char *const *keys;        /* accepted option keys, NULL-terminated */
    /* type: this type (one create can serve several types, e.g. both virtio transports). */
    Device *(*create)(const DeviceType *type, const DeviceBoard *board, const DeviceOpts *opts,
                      Error **errp);
    void (*destroy)(Device *dev);
    const void *type_data;          /* for create: what a family of types shares */
    /* Optional: an fd the event loop polls for POLLIN (-1: none now), and what to do
     * when it is readable (>= 0, or -errno with errp set). See devices/device_input.c. */
    int (*poll_fd)(Device *dev);
    int (*handle_readable)(Device *dev, Error **errp);
    /* Optional: an fd with output queued, to poll for POLLOUT (-1: none now), and the
     * flush to run when it is writable. See devices/device_output.c. */
    int (*poll_out_fd)(Device *dev);
    void (*handle_writable)(Device *dev);
};

/* Embedded in every device's state; the type's callbacks get back to that state with
 * container_of. */
struct Device {
    const DeviceType *type;
};

void device_type_register(const DeviceType *type);
#define DEVICE_TYPE_REGISTER(type)                                                     \
    static void __attribute__((constructor)) register_##type(void)                     \
    {                                                                                  \
        device_type_register(&(type));                                                 \
    }

const DeviceType *device_type_find(const char *name);
/* "name: help" for every registered type, sorted by name. */
void device_types_print(FILE *out);

int device_opts_parse(DeviceOpts *opts, const char *str, Error **errp);
void device_opts_free(DeviceOpts *opts);
const char *device_opts_get(const DeviceOpts *opts, const char *key);
/* Value of key as a number (decimal, 0x hex, 0 octal) in [0, max], or def if absent. */
int device_opts_get_u64(const DeviceOpts *opts, const char *key, uint64_t def,
                        uint64_t max, uint64_t *out, Error **errp);

/* The "irq" option (default def) as an ISA interrupt line on the board's router. */
int device_opts_get_isa_irq(const DeviceOpts *opts, const DeviceBoard *board, unsigned def,
                            IrqLine *line, Error **errp);
/* The "irq" option of a memory-mapped device as the board's kind of line: an ISA line,
 * or an SPI where the board has a GIC (board->irq_spi). */
int device_opts_get_irq(const DeviceOpts *opts, const DeviceBoard *board, unsigned def,
                        IrqLine *line, Error **errp);

/* Parse str, check its keys against the type, create the device. */
Device *device_create(const DeviceBoard *board, const char *str, Error **errp);
void device_destroy(Device *dev);
/* Input for the event loop: the fd to poll now (-1: none) and its handler. */
int device_poll_fd(Device *dev);
int device_handle_readable(Device *dev, Error **errp);
/* Output for the event loop: the fd to poll for POLLOUT now (-1: none) and its flush. */
int device_poll_out_fd(Device *dev);
void device_handle_writable(Device *dev);

#endif
