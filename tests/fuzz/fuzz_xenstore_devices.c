/*
 * tests/fuzz/fuzz_xenstore_devices.c — hostile xenstore nodes of a virtio backend
 * directory, as a toolstack (or whoever may write them) could leave them, through the
 * parser of --xenstore-devices (dm/xenstore_device_spec.c, xsdev_parse).
 *
 * The input's first byte picks the kind (bit 0: virtio_disk or virtio) and the machine
 * (bit 1: x86 or Arm); the rest is the directory, one "key=value" per line (a line
 * without '=' is a key whose value is empty; a later line for the same key wins, as a
 * later write would). Values may hold anything but newlines, NULs included (they end
 * the value, as a C string read from xenstore would).
 *
 * Checked besides the sanitizers: a refusal always says why; an accepted device's
 * string is terminated within its buffer, its window lies in one 0x200-byte virtio-mmio
 * slot of the address space (no wrap) and it names the window it was given.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm/xenstore_devices.h"
#include "tests/fuzz/fuzz.h"
#include "util/log.h"

#define MAX_KEYS 64

typedef struct Directory {
    unsigned n;
    char *key[MAX_KEYS], *value[MAX_KEYS];
} Directory;

static const char *lookup(void *opaque, const char *key)
{
    const Directory *d = opaque;
    for (unsigned i = d->n; i-- > 0;) {
        if (strcmp(d->key[i], key) == 0)
            return d->value[i];
    }
    return NULL;
}

/* Split text (NUL-terminated, modified in place) into lines of key=value. */
static void read_directory(char *text, Directory *d)
{
    d->n = 0;
    for (char *line = text; line && d->n < MAX_KEYS;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq)
            *eq = '\0';
        d->key[d->n] = line;
        d->value[d->n] = eq ? eq + 1 : line + strlen(line);
        d->n++;
        line = next;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        log_set_level(LOG_SILENT);
        quiet = true;
    }
    if (size < 1)
        return 0;
    enum xsdev_kind kind = (data[0] & 1) ? XSDEV_VIRTIO : XSDEV_DISK;
    const DmMachineDesc *m = dm_machine_find((data[0] & 2) ? "arm" : "x86");
    if (!m)
        abort();
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    Directory d;
    read_directory(text, &d);
    XsDevConfig cfg;
    Error *err = NULL;
    if (xsdev_parse(kind, 7, m, lookup, &d, &cfg, &err) < 0) {
        if (!err || !*error_get_pretty(err))
            abort();                    /* a refusal must say why */
        error_free(err);
    } else {
        if (err || !memchr(cfg.spec, '\0', sizeof(cfg.spec)))
            abort();
        if (cfg.base + XSDEV_WINDOW < cfg.base)
            abort();                    /* a window that wraps */
        char addr[32];
        snprintf(addr, sizeof(addr), "addr=0x%" PRIx64, cfg.base);
        if (!strstr(cfg.spec, addr))
            abort();                    /* the device is not where it was checked */
    }
    free(text);
    return 0;
}
