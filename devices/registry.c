/*
 * devices/registry.c — the table of device types and creation from option strings.
 *
 * Each device file registers its DeviceType from a constructor, before main() runs, so
 * the table is complete and read-only by the time dm/ parses its command line. (The
 * Makefile links devices/ as one object so that no constructor is left behind.)
 * Option strings are "type,key=value,...": values cannot contain commas, empty options
 * are refused, keys must be ones the type lists, and each may appear once.
 */
#include "devices/device.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define DEVICE_TYPES_MAX 32

static const DeviceType *device_types[DEVICE_TYPES_MAX];
static unsigned device_type_count;

void device_type_register(const DeviceType *type)
{
    /* Both checks are programming errors in a device file, caught at start-up. */
    if (device_type_count == DEVICE_TYPES_MAX || device_type_find(type->name)) {
        log_error("device type '%s' registered twice or table full", type->name);
        abort();
    }
    device_types[device_type_count++] = type;
}

const DeviceType *device_type_find(const char *name)
{
    for (unsigned i = 0; i < device_type_count; i++)
        if (strcmp(device_types[i]->name, name) == 0)
            return device_types[i];
    return NULL;
}

static int compare_type_names(const void *a, const void *b)
{
    const DeviceType *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

void device_types_print(FILE *out)
{
    const DeviceType *sorted[DEVICE_TYPES_MAX];
    memcpy(sorted, device_types, device_type_count * sizeof(sorted[0]));
    qsort(sorted, device_type_count, sizeof(sorted[0]), compare_type_names);
    for (unsigned i = 0; i < device_type_count; i++)
        fprintf(out, "%s: %s\n", sorted[i]->name, sorted[i]->help);
}

/* ---- option strings ---- */

const char *device_opts_get(const DeviceOpts *opts, const char *key)
{
    for (unsigned i = 0; i < opts->count; i++)
        if (strcmp(opts->opt[i].key, key) == 0)
            return opts->opt[i].value;
    return NULL;
}

static int device_opts_add(DeviceOpts *opts, char *item, Error **errp)
{
    char *eq = strchr(item, '=');
    if (!eq || eq == item) {
        error_setg(errp, "device '%s': option '%s' is not key=value", opts->type, item);
        return -EINVAL;
    }
    *eq = '\0';
    if (device_opts_get(opts, item)) {
        error_setg(errp, "device '%s': option '%s' given twice", opts->type, item);
        return -EINVAL;
    }
    if (opts->count == DEVICE_OPTS_MAX) {
        error_setg(errp, "device '%s': more than %d options", opts->type, DEVICE_OPTS_MAX);
        return -E2BIG;
    }
    opts->opt[opts->count].key = item;
    opts->opt[opts->count].value = eq + 1;
    opts->count++;
    return 0;
}

/* Cut *cursor at the next comma: returns the item, advances *cursor (NULL at the end). */
static char *next_item(char **cursor)
{
    char *item = *cursor, *comma = strchr(item, ',');
    if (comma)
        *comma++ = '\0';
    *cursor = comma;
    return item;
}

int device_opts_parse(DeviceOpts *opts, const char *str, Error **errp)
{
    *opts = (DeviceOpts){ 0 };
    opts->storage = strdup(str);
    if (!opts->storage) {
        error_setg_errno(errp, ENOMEM, "cannot copy device options '%s'", str);
        return -ENOMEM;
    }
    char *cursor = opts->storage;
    opts->type = next_item(&cursor);
    int ret = 0;
    if (!*opts->type) {
        error_setg(errp, "device options '%s' do not start with a device type", str);
        ret = -EINVAL;
    }
    while (ret == 0 && cursor) {
        char *item = next_item(&cursor);
        if (!*item) {
            error_setg(errp, "device options '%s' have an empty option", str);
            ret = -EINVAL;
        } else {
            ret = device_opts_add(opts, item, errp);
        }
    }
    if (ret < 0)
        device_opts_free(opts);
    return ret;
}

void device_opts_free(DeviceOpts *opts)
{
    free(opts->storage);
    *opts = (DeviceOpts){ 0 };
}

int device_opts_get_u64(const DeviceOpts *opts, const char *key, uint64_t def,
                        uint64_t max, uint64_t *out, Error **errp)
{
    const char *text = device_opts_get(opts, key);
    if (!text) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (!*text || *end || errno || text[0] == '-') {
        error_setg(errp, "device '%s': %s='%s' is not a number", opts->type, key, text);
        return -EINVAL;
    }
    if (v > max) {
        error_setg(errp, "device '%s': %s=%s is above the maximum 0x%" PRIx64, opts->type,
                   key, text, max);
        return -ERANGE;
    }
    *out = v;
    return 0;
}

int device_opts_get_isa_irq(const DeviceOpts *opts, const DeviceBoard *board, unsigned def,
                            IrqLine *line, Error **errp)
{
    uint64_t irq;
    if (device_opts_get_u64(opts, "irq", def, ISA_NUM_IRQS - 1, &irq, errp) < 0)
        return -EINVAL;
    return irq_line_init_isa(line, board->irq, (unsigned)irq, errp);
}

int device_opts_get_irq(const DeviceOpts *opts, const DeviceBoard *board, unsigned def,
                        IrqLine *line, Error **errp)
{
    if (!board->irq_spi)
        return device_opts_get_isa_irq(opts, board, def, line, errp);
    uint64_t spi;
    if (device_opts_get_u64(opts, "irq", def, GIC_SPI_LAST, &spi, errp) < 0)
        return -EINVAL;
    return irq_line_init_spi(line, board->irq, (unsigned)spi, errp);
}

static int device_opts_check_keys(const DeviceOpts *opts, const DeviceType *type,
                                  Error **errp)
{
    for (unsigned i = 0; i < opts->count; i++) {
        const char *const *k = type->keys;
        while (*k && strcmp(*k, opts->opt[i].key) != 0)
            k++;
        if (!*k) {
            error_setg(errp, "device '%s' has no option '%s' (%s)", type->name,
                       opts->opt[i].key, type->help);
            return -EINVAL;
        }
    }
    return 0;
}

Device *device_create(const DeviceBoard *board, const char *str, Error **errp)
{
    DeviceOpts opts;
    if (device_opts_parse(&opts, str, errp) < 0)
        return NULL;
    Device *dev = NULL;
    const DeviceType *type = device_type_find(opts.type);
    if (!type)
        error_setg(errp, "unknown device type '%s' (try --device help)", opts.type);
    else if (device_opts_check_keys(&opts, type, errp) == 0)
        dev = type->create(type, board, &opts, errp);
    device_opts_free(&opts);
    return dev;
}

void device_destroy(Device *dev)
{
    if (dev)
        dev->type->destroy(dev);
}
