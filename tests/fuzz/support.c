/* tests/fuzz/support.c — see support.h. */
#include "tests/fuzz/support.h"

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

static int irq_isa(void *opaque, unsigned irq, bool level) { return 0; }
static int irq_intx(void *opaque, uint32_t sbdf, unsigned intx, bool level) { return 0; }
static int irq_msi(void *opaque, uint64_t addr, uint32_t data) { return 0; }

void fuzz_board_init(FuzzBoard *b, uint64_t ram_bytes)
{
    memory_region_init(&b->sys, "/machine", "system", UINT64_MAX);
    memory_region_init(&b->io, "/machine", "io", 0x10000);
    if (memory_region_init_ram(&b->ram, "/machine", "ram", ram_bytes, NULL) < 0 ||
        memory_region_add_subregion(&b->sys, 0, &b->ram, NULL) < 0 ||
        address_space_init(&b->as_mem, &b->sys, "memory", NULL) < 0 ||
        address_space_init(&b->as_io, &b->io, "I/O", NULL) < 0)
        abort();
    b->irq = (IrqRouter){ .set_isa_irq = irq_isa, .set_pci_intx = irq_intx,
                          .inject_msi = irq_msi };
    b->pci = pci_host_new(&b->sys, &b->io, &b->irq, 0, NULL);
    if (!b->pci)
        abort();
    device_work_queue_init(&b->work);
    b->loop = (DeviceLoop){ .work = &b->work };
    b->board = (DeviceBoard){ .system_memory = &b->sys, .system_io = &b->io,
                              .dma_as = &b->as_mem, .irq = &b->irq, .pci = b->pci,
                              .loop = &b->loop };
}

static Device *create_on(const DeviceBoard *board, const char *spec, const char *path,
                         Error **errp)
{
    char full[512];
    snprintf(full, sizeof(full), "%s,file=%s", spec, path);
    return device_create(board, full, errp);
}

Device *fuzz_create_blk(const DeviceBoard *board, const char *spec, const char *fallback,
                        enum fuzz_image_fs fs, int *image_fd)
{
    struct stat st;
    bool shm = fs == FUZZ_IMAGE_TMPFS && stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode);
    char path[64];
    snprintf(path, sizeof(path), "%s/xendm-fuzz-blk-XXXXXX", shm ? "/dev/shm" : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, FUZZ_IMAGE_BYTES) < 0) {
        perror("fuzz: cannot make an image");
        abort();
    }
    Error *err = NULL;
    Device *dev = create_on(board, spec, path, &err);
    if (!dev && fallback) {
        error_free(err);
        err = NULL;
        dev = create_on(board, fallback, path, &err);
    }
    unlink(path);
    if (!dev) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", fallback ? fallback : spec,
                error_get_pretty(err));
        abort();
    }
    if (image_fd)
        *image_fd = fd;
    else
        close(fd);
    return dev;
}

#define FUZZ_MAX_SERVED 8

unsigned fuzz_serve_turn(Device *const *devs, unsigned n, DeviceWorkQueue *work,
                         unsigned timeout_us)
{
    struct pollfd p[FUZZ_MAX_SERVED];
    struct timespec timeout = { .tv_sec = timeout_us / 1000000,
                                .tv_nsec = (long)(timeout_us % 1000000) * 1000 };
    unsigned nr = 0, had_input = 0;
    if (n > FUZZ_MAX_SERVED)
        abort();                    /* the harness passed more than it may */
    for (unsigned i = 0; i < n; i++) {
        p[i] = (struct pollfd){ .fd = device_poll_fd(devs[i]), .events = POLLIN };
        nr += p[i].fd >= 0;
    }
    if (nr && ppoll(p, n, &timeout, NULL) > 0) {
        for (unsigned i = 0; i < n; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            had_input++;
            Error *err = NULL;
            if (device_handle_readable(devs[i], &err) < 0)
                error_free(err);
        }
    }
    if (work)
        device_work_run(work);
    return had_input;
}
