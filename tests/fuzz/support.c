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
