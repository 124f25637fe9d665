/*
 * Unit tests for dm/xenstore_device_spec.c: backend directories exactly as libxl writes
 * them (libxl_disk.c for virtio_disk, libxl_virtio.c for virtio), every key checked,
 * made into xendm device strings for the x86 and the Arm machine; and every way a
 * directory can be wrong refused with a message naming the key.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dm/xenstore_devices.h"

#define MAX_KEYS 24

typedef struct Dir {
    unsigned nr;
    struct { const char *key; const char *value; } kv[MAX_KEYS];
} Dir;

static const char *dir_get(void *opaque, const char *key)
{
    Dir *d = opaque;
    for (unsigned i = 0; i < d->nr; i++)
        if (strcmp(d->kv[i].key, key) == 0)
            return d->kv[i].value;
    return NULL;
}

/* Set key (value NULL: remove it). */
static void dir_set(Dir *d, const char *key, const char *value)
{
    for (unsigned i = 0; i < d->nr; i++) {
        if (strcmp(d->kv[i].key, key) == 0) {
            if (value)
                d->kv[i].value = value;
            else
                d->kv[i] = d->kv[--d->nr];
            return;
        }
    }
    assert_true(d->nr < MAX_KEYS);
    if (value)
        d->kv[d->nr++] = (typeof(d->kv[0])){ key, value };
}

/* libxl_disk.c's backend keys for an Arm guest's first virtio disk (domain 5, xvda). */
static Dir arm_disk(void)
{
    Dir d = { 0 };
    static const char *const kv[][2] = {
        { "frontend", "/local/domain/5/device/virtio_disk/51712" },
        { "params", "/var/lib/xen/images/guest.img" }, { "frontend-id", "5" },
        { "online", "1" }, { "removable", "0" }, { "bootable", "1" }, { "state", "1" },
        { "dev", "xvda" }, { "type", "standalone" }, { "mode", "w" },
        { "device-type", "disk" }, { "discard-enable", "1" },
        { "specification", "virtio" }, { "transport", "mmio" },
        { "base", "33554432" }, { "irq", "33" }, { "grant_usage", "0" },
    };
    for (unsigned i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        dir_set(&d, kv[i][0], kv[i][1]);
    return d;
}

/* libxl_virtio.c's (with libxl__device_add_async's) for a virtio-rng. */
static Dir arm_rng(void)
{
    Dir d = { 0 };
    static const char *const kv[][2] = {
        { "frontend", "/local/domain/5/device/virtio/0" }, { "frontend-id", "5" },
        { "online", "1" }, { "state", "1" }, { "irq", "35" }, { "base", "0x2000400" },
        { "type", "virtio,device4" }, { "transport", "mmio" }, { "grant_usage", "0" },
    };
    for (unsigned i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        dir_set(&d, kv[i][0], kv[i][1]);
    return d;
}

static int parse(enum xsdev_kind kind, const DmMachineDesc *m, Dir *d, XsDevConfig *cfg,
                 char *msg, size_t msg_size)
{
    Error *err = NULL;
    int ret = xsdev_parse(kind, 5, m, dir_get, d, cfg, &err);
    if (ret < 0) {
        assert_non_null(err);
        snprintf(msg, msg_size, "%s", error_get_pretty(err));
        error_free(err);
    } else {
        assert_null(err);
    }
    return ret;
}

static void libxl_disk_becomes_virtio_blk(void **state)
{
    Dir d = arm_disk();
    XsDevConfig cfg;
    char msg[512];
    assert_int_equal(parse(XSDEV_DISK, &dm_machine_arm, &d, &cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.spec, "virtio-blk,addr=0x2000000,irq=33,grant_usage=0,"
                                  "file=/var/lib/xen/images/guest.img");
    assert_true(cfg.base == 0x2000000 && cfg.irq == 33 && cfg.opens_file);

    dir_set(&d, "grant_usage", "1");
    assert_int_equal(parse(XSDEV_DISK, &dm_machine_arm, &d, &cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.spec, "virtio-blk,addr=0x2000000,irq=33,grant_usage=1,"
                                  "file=/var/lib/xen/images/guest.img");
    dir_set(&d, "grant_usage", "0");

    dir_set(&d, "mode", "r");
    dir_set(&d, "discard-enable", "0");
    dir_set(&d, "direct-io-safe", "1");         /* written by libxl when asked: ignored */
    dir_set(&d, "base", "34602496");            /* the last window, 0x20ffe00 */
    dir_set(&d, "irq", "43");
    assert_int_equal(parse(XSDEV_DISK, &dm_machine_arm, &d, &cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.spec, "virtio-blk,addr=0x20ffe00,irq=43,grant_usage=0,"
                                  "file=/var/lib/xen/images/guest.img,readonly=on,"
                                  "discard=ignore");

    /* x86: xendm's own area below the IOAPIC, ISA lines */
    dir_set(&d, "base", "4272955392");          /* 0xfeb02000 */
    dir_set(&d, "irq", "7");
    assert_int_equal(parse(XSDEV_DISK, &dm_machine_x86, &d, &cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.spec, "virtio-blk,addr=0xfeb02000,irq=7,grant_usage=0,"
                                  "file=/var/lib/xen/images/guest.img,readonly=on,"
                                  "discard=ignore");
}

static void libxl_virtio_becomes_a_device(void **state)
{
    Dir d = arm_rng();
    XsDevConfig cfg;
    char msg[512];
    assert_int_equal(parse(XSDEV_VIRTIO, &dm_machine_arm, &d, &cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.spec, "virtio-rng,addr=0x2000400,irq=35,grant_usage=0");
    assert_false(cfg.opens_file);

    /* grant_usage=1: the device's DMA goes through grant references */
    dir_set(&d, "grant_usage", "1");
    assert_int_equal(parse(XSDEV_VIRTIO, &dm_machine_arm, &d, &cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.spec, "virtio-rng,addr=0x2000400,irq=35,grant_usage=1");
}

typedef struct Bad {
    const char *key, *value;        /* value NULL: the key is missing */
    const char *message;            /* a part of the refusal */
} Bad;

static void check_refusals(enum xsdev_kind kind, Dir (*make)(void), const Bad *bad, size_t nr)
{
    for (size_t i = 0; i < nr; i++) {
        Dir d = make();
        XsDevConfig cfg;
        char msg[512] = "";
        dir_set(&d, bad[i].key, bad[i].value);
        int ret = parse(kind, &dm_machine_arm, &d, &cfg, msg, sizeof(msg));
        if (ret == 0 || !strstr(msg, bad[i].message))
            fail_msg("%s=%s: got %d '%s', expected '%s'", bad[i].key,
                     bad[i].value ? bad[i].value : "(missing)", ret, msg, bad[i].message);
    }
}

static void bad_disk_nodes_are_refused(void **state)
{
    static const Bad bad[] = {
        { "params", NULL, "the key 'params' is missing" },
        { "params", "", "params='' is empty" },
        { "params", "/images/a,b.img", "a path with a comma" },
        { "mode", NULL, "the key 'mode' is missing" },
        { "mode", "rw", "mode='rw', expected 'w' or 'r'" },
        { "type", "phy", "type='phy', expected 'standalone'" },
        { "specification", "xen", "specification='xen', expected 'virtio'" },
        { "specification", NULL, "the key 'specification' is missing" },
        { "transport", "pci", "transport='pci', expected 'mmio'" },
        { "device-type", "cdrom", "device-type='cdrom', expected 'disk'" },
        { "discard-enable", "yes", "discard-enable='yes', expected '0' or '1'" },
        { "frontend-id", "6", "frontend-id=6, but xendm serves domain 5" },
        { "frontend-id", NULL, "the key 'frontend-id' is missing" },
        { "online", "0", "online='0', expected '1'" },
        { "state", "4", "state='4', expected '1'" },
        { "base", NULL, "the key 'base' is missing" },
        { "base", "0x2000000", "base='0x2000000' is not a decimal number" },
        { "base", "-1", "is not a decimal number" },
        { "base", "99999999999999999999", "is not a decimal number" },
        { "base", "33554433", "base=0x2000001 is not a 0x200-byte window" },
        { "base", "16777216", "base=0x1000000 is not a 0x200-byte window" },
        { "base", "34603008", "base=0x2100000 is not a 0x200-byte window" },
        { "irq", NULL, "the key 'irq' is missing" },
        { "irq", "32", "irq=32 is outside the arm machine's virtio interrupts 33-43" },
        { "irq", "44", "irq=44 is outside" },
        { "irq", "0x21", "irq='0x21' is not a decimal number" },
        { "grant_usage", "2", "grant_usage='2', expected '0' or '1'" },
        { "grant_usage", NULL, "the key 'grant_usage' is missing" },
    };
    check_refusals(XSDEV_DISK, arm_disk, bad, sizeof(bad) / sizeof(bad[0]));
}

static void bad_virtio_nodes_are_refused(void **state)
{
    static const Bad bad[] = {
        { "type", NULL, "the key 'type' is missing" },
        { "type", "virtio,device", "is not 'virtio,device<N>'" },
        { "type", "virtio,deviceZZ", "is not 'virtio,device<N>'" },
        { "type", "virtio,device1A", "is not 'virtio,device<N>'" },
        { "type", "virtio,device22", "no virtio device with id 0x22" },
        { "type", "virtio,device2", "a disk is a disk= entry" },
        { "base", "0x2000401", "base=0x2000401 is not a 0x200-byte window" },
        { "base", "0xg", "is not a decimal or 0x hex number" },
        { "irq", "12", "irq=12 is outside" },
        { "transport", "mmio2", "transport='mmio2', expected 'mmio'" },
        { "grant_usage", "yes", "grant_usage='yes', expected '0' or '1'" },
        { "frontend-id", "x", "frontend-id='x' is not a decimal number" },
    };
    check_refusals(XSDEV_VIRTIO, arm_rng, bad, sizeof(bad) / sizeof(bad[0]));
}

static void machines_are_found_by_name(void **state)
{
    assert_ptr_equal(dm_machine_find("x86"), &dm_machine_x86);
    assert_ptr_equal(dm_machine_find("arm"), &dm_machine_arm);
    assert_null(dm_machine_find("riscv"));
    assert_false(dm_machine_arm.port_io || dm_machine_arm.pci ||
                 dm_machine_arm.buffered_ioreqs);
    assert_true(dm_machine_arm.irq_spi && dm_machine_arm.nr_default_devices == 0);
    assert_true(dm_machine_x86.port_io && dm_machine_x86.pci && !dm_machine_x86.irq_spi);
    assert_non_null(dm_machine_default());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(libxl_disk_becomes_virtio_blk),
        cmocka_unit_test(libxl_virtio_becomes_a_device),
        cmocka_unit_test(bad_disk_nodes_are_refused),
        cmocka_unit_test(bad_virtio_nodes_are_refused),
        cmocka_unit_test(machines_are_found_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
