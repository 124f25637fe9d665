/*
 * dm/xenstore_device_spec.c — a backend directory libxl wrote, checked key by key and
 * made into a xendm device string (the format in dm/xenstore_devices.h).
 *
 * Numbers are read the way libxl writes them: a disk's base in decimal (PRIu64), a
 * generic device's in hex (%#PRIx64, so "0" for zero), every irq in decimal. A window
 * must be 0x200-aligned inside the machine's virtio-mmio area and its irq inside the
 * machine's range (dm/machines.c): on Arm, libxl's own placement. Whether the window is
 * free is for the machine to say when the device is added (dm_machine_add_device).
 */
#include "dm/xenstore_devices.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macros.h"

const char *const xsdev_kind_name[XSDEV_NR_KINDS] = {
    [XSDEV_DISK] = "virtio_disk", [XSDEV_VIRTIO] = "virtio",
};

/* The generic virtio devices xendm has, by virtio device id. */
static const struct { unsigned id; const char *type; } virtio_types[] = {
    { 4, "virtio-rng" },
};

typedef struct Parse {
    enum xsdev_kind kind;
    XsDevLookup get;
    void *opaque;
    Error **errp;
} Parse;

static int refuse(Parse *p, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(Parse *p, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    error_setg(p->errp, "%s", msg);
    return -err;
}

/* A key that must be there. */
static int need(Parse *p, const char *key, const char **value)
{
    *value = p->get(p->opaque, key);
    if (!*value)
        return refuse(p, EINVAL, "%s: the key '%s' is missing", xsdev_kind_name[p->kind], key);
    return 0;
}

/* A key that must hold exactly one of the words in `allowed` (NULL-terminated);
 * *which: its index. */
static int need_word(Parse *p, const char *key, const char *const *allowed, unsigned *which)
{
    const char *v;
    int ret = need(p, key, &v);
    if (ret < 0)
        return ret;
    for (unsigned i = 0; allowed[i]; i++) {
        if (strcmp(v, allowed[i]) == 0) {
            *which = i;
            return 0;
        }
    }
    char list[128] = "";
    for (unsigned i = 0; allowed[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s'%s'", i ? " or " : "",
                 allowed[i]);
    return refuse(p, EINVAL, "%s: %s='%s', expected %s", xsdev_kind_name[p->kind], key, v, list);
}

/* A number: decimal digits, or with `hex` also 0x followed by hex digits. */
static int need_number(Parse *p, const char *key, bool hex, uint64_t max, uint64_t *out)
{
    const char *v;
    int ret = need(p, key, &v);
    if (ret < 0)
        return ret;
    bool is_hex = hex && (v[0] == '0' && (v[1] == 'x' || v[1] == 'X'));
    const char *digits = is_hex ? v + 2 : v;
    const char *set = is_hex ? "0123456789abcdefABCDEF" : "0123456789";
    uint64_t n = 0, radix = is_hex ? 16 : 10;
    bool ok = *digits && strspn(digits, set) == strlen(digits);
    for (const char *c = digits; ok && *c; c++) {
        unsigned d = (unsigned)(strchr(set, *c) - set);
        unsigned digit = d < 16 ? d : d - 6;        /* A-F after a-f */
        if (n > (UINT64_MAX - digit) / radix)
            ok = false;
        n = n * radix + digit;
    }
    if (!ok || n > max)
        return refuse(p, EINVAL, "%s: %s='%s' is not a %s number up to %" PRIu64,
                      xsdev_kind_name[p->kind], key, v, hex ? "decimal or 0x hex" : "decimal",
                      max);
    *out = n;
    return 0;
}

static const char *const one_word[] = { "1", NULL };
static const char *const bool_words[] = { "0", "1", NULL };

/* The keys both kinds have: the frontend's domain, online, state, the transport and
 * the window. */
static int parse_common(Parse *p, uint32_t domid, const DmMachineDesc *m, bool hex_base,
                        XsDevConfig *out)
{
    unsigned which;
    uint64_t fe, base, irq;
    static const char *const mmio[] = { "mmio", NULL };
    int ret = need_number(p, "frontend-id", false, UINT32_MAX, &fe);
    if (ret == 0 && fe != domid)
        ret = refuse(p, EINVAL, "%s: frontend-id=%" PRIu64 ", but xendm serves domain %u",
                     xsdev_kind_name[p->kind], fe, domid);
    if (ret == 0)
        ret = need_word(p, "online", one_word, &which);
    if (ret == 0)
        ret = need_word(p, "state", one_word, &which);      /* XenbusStateInitialising */
    if (ret == 0)
        ret = need_word(p, "transport", mmio, &which);
    if (ret == 0)
        ret = need_number(p, "base", hex_base, UINT64_MAX, &base);
    if (ret == 0)
        ret = need_number(p, "irq", false, UINT32_MAX, &irq);
    if (ret < 0)
        return ret;
    uint64_t end = m->virtio_mmio_base + m->virtio_mmio_size;
    if (base % XSDEV_WINDOW || base < m->virtio_mmio_base || base > end - XSDEV_WINDOW)
        return refuse(p, ERANGE, "%s: base=0x%" PRIx64 " is not a 0x%x-byte window in the "
                      "%s machine's virtio-mmio area 0x%" PRIx64 "-0x%" PRIx64,
                      xsdev_kind_name[p->kind], base, XSDEV_WINDOW, m->name,
                      m->virtio_mmio_base, end - 1);
    if (irq < m->virtio_irq_first || irq > m->virtio_irq_last)
        return refuse(p, ERANGE, "%s: irq=%" PRIu64 " is outside the %s machine's virtio "
                      "interrupts %u-%u", xsdev_kind_name[p->kind], irq, m->name,
                      m->virtio_irq_first, m->virtio_irq_last);
    out->base = base;
    out->irq = (unsigned)irq;
    /* grant_usage=1: the guest hands out grant references, not guest-physical addresses
     * (the device's own option of the same name). */
    ret = need_word(p, "grant_usage", bool_words, &which);
    if (ret < 0)
        return ret;
    snprintf(out->spec + strlen(out->spec), sizeof(out->spec) - strlen(out->spec),
             ",addr=0x%" PRIx64 ",irq=%u,grant_usage=%u", base, out->irq, which);
    return 0;
}

static int parse_disk(Parse *p, uint32_t domid, const DmMachineDesc *m, XsDevConfig *out)
{
    static const char *const standalone[] = { "standalone", NULL };
    static const char *const virtio[] = { "virtio", NULL };
    static const char *const disk[] = { "disk", NULL };
    static const char *const modes[] = { "w", "r", NULL };
    unsigned which, mode, discard;
    const char *path;
    int ret = need_word(p, "type", standalone, &which);
    if (ret == 0)
        ret = need_word(p, "specification", virtio, &which);
    if (ret == 0)
        ret = need_word(p, "device-type", disk, &which);
    if (ret == 0)
        ret = need_word(p, "mode", modes, &mode);
    if (ret == 0)
        ret = need_word(p, "discard-enable", bool_words, &discard);
    if (ret == 0)
        ret = need(p, "params", &path);
    if (ret < 0)
        return ret;
    if (!*path || strchr(path, ','))
        return refuse(p, EINVAL, "virtio_disk: params='%s' is %s", path,
                      *path ? "a path with a comma, which xendm's device options cannot hold"
                            : "empty: no image to serve");
    snprintf(out->spec, sizeof(out->spec), "virtio-blk");
    ret = parse_common(p, domid, m, false, out);
    if (ret < 0)
        return ret;
    size_t len = strlen(out->spec);
    int n = snprintf(out->spec + len, sizeof(out->spec) - len, ",file=%s%s%s", path,
                     mode == 1 ? ",readonly=on" : "", discard ? "" : ",discard=ignore");
    if (n < 0 || (size_t)n >= sizeof(out->spec) - len)
        return refuse(p, ENAMETOOLONG, "virtio_disk: params='%s' is too long", path);
    out->opens_file = true;
    return 0;
}

static int parse_virtio(Parse *p, uint32_t domid, const DmMachineDesc *m, XsDevConfig *out)
{
    static const char prefix[] = "virtio,device";
    const char *type;
    int ret = need(p, "type", &type);
    if (ret < 0)
        return ret;
    const char *id_text = type + strlen(prefix);
    if (strncmp(type, prefix, strlen(prefix)) != 0 || !*id_text ||
        strspn(id_text, "0123456789abcdef") != strlen(id_text) || strlen(id_text) > 4)
        return refuse(p, EINVAL, "virtio: type='%s' is not 'virtio,device<N>' with the "
                      "device id N in lower-case hex", type);
    unsigned id = (unsigned)strtoul(id_text, NULL, 16);
    const char *xendm_type = NULL;
    for (unsigned i = 0; i < ARRAY_SIZE(virtio_types); i++)
        if (virtio_types[i].id == id)
            xendm_type = virtio_types[i].type;
    if (!xendm_type)
        return refuse(p, ENOTSUP, "virtio: type='%s': xendm has no virtio device with id "
                      "0x%x%s", type, id, id == 2 ? " here (a disk is a disk= entry with "
                      "specification=virtio)" : "");
    snprintf(out->spec, sizeof(out->spec), "%s", xendm_type);
    return parse_common(p, domid, m, true, out);
}

int xsdev_parse(enum xsdev_kind kind, uint32_t domid, const DmMachineDesc *m,
                XsDevLookup get, void *opaque, XsDevConfig *out, Error **errp)
{
    Parse p = { .kind = kind, .get = get, .opaque = opaque, .errp = errp };
    *out = (XsDevConfig){ 0 };
    return kind == XSDEV_DISK ? parse_disk(&p, domid, m, out) : parse_virtio(&p, domid, m, out);
}
