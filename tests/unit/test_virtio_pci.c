/*
 * Unit tests for the modern virtio-pci transport (devices/virtio_pci.c) with the
 * entropy device ("virtio-rng-pci"): what a guest's virtio_pci driver does — find the
 * function and walk its vendor capabilities, place BAR 0, negotiate through the common
 * configuration, set up a queue with 32-bit halves, kick it through the notify area —
 * and the device's answers: random bytes in the buffer, the used ring, INTA raised
 * until the ISR byte is read. Wrong-width accesses and a broken queue are refused
 * without harm.
 */
#include "tests/unit/support.h"

#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "devices/pci.h"
#include "util/log.h"

#define RAM_SIZE 0x100000u
#define BAR      0x20000000u
#define DEVFN    PCI_DEVFN(3, 0)
#define DESC     0x1000u
#define AVAIL    0x2000u
#define USED     0x3000u
#define BUF      0x10000u

enum { CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c,
       CC_NUMQ = 0x12, CC_STATUS = 0x14, CC_Q_SELECT = 0x16, CC_Q_SIZE = 0x18,
       CC_Q_ENABLE = 0x1c, CC_Q_NOFF = 0x1e, CC_Q_DESCLO = 0x20, CC_Q_DESCHI = 0x24,
       CC_Q_AVAILLO = 0x28, CC_Q_USEDLO = 0x30 };

typedef struct Fixture {
    TestBoard b;
    PciHost *host;
    Device *dev;
    uint32_t common, isr, notify, multiplier;   /* from the capabilities */
} Fixture;

static uint32_t cfg_rd(Fixture *f, uint32_t reg, unsigned size)
{
    return pci_host_config_read(f->host, PCI_SBDF(0, 0, DEVFN), reg, size);
}

static uint64_t rd(Fixture *f, uint32_t off, unsigned size)
{
    uint64_t v = 0;
    address_space_read(&f->b.as, BAR + off, MEMTXATTRS_UNSPECIFIED, &v, size);
    return v;
}

static void wr(Fixture *f, uint32_t off, uint64_t v, unsigned size)
{
    address_space_write(&f->b.as, BAR + off, MEMTXATTRS_UNSPECIFIED, &v, size);
}

/* Walk the capability list as the Linux driver does, keeping the virtio ones. */
static void find_caps(Fixture *f)
{
    assert_true(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    unsigned found = 0;
    for (uint32_t at = cfg_rd(f, PCI_CAPABILITY_LIST, 1); at; at = cfg_rd(f, at + 1, 1)) {
        assert_int_equal(cfg_rd(f, at, 1), PCI_CAP_ID_VNDR);
        assert_int_equal(cfg_rd(f, at + 4, 1), 0);                  /* BAR 0 */
        uint32_t type = cfg_rd(f, at + 3, 1), off = cfg_rd(f, at + 8, 4);
        if (type == 1)
            f->common = off;
        else if (type == 3)
            f->isr = off;
        else if (type == 2) {
            f->notify = off;
            f->multiplier = cfg_rd(f, at + 16, 4);
            assert_int_equal(cfg_rd(f, at + 2, 1), 20);
        }
        found++;
        assert_true(found <= 3);
    }
    assert_int_equal(found, 3);
}

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    test_board_init(&f->b, RAM_SIZE);
    f->host = pci_host_new(&f->b.mem_root, &f->b.io_root, &f->b.irqs.router, 0, NULL);
    f->b.board.pci = f->host;
    Error *err = NULL;
    f->dev = device_create(&f->b.board, "virtio-rng-pci,slot=3", &err);
    assert_null(err);
    pci_host_config_write(f->host, PCI_SBDF(0, 0, DEVFN), PCI_BASE_ADDRESS_0, 4, BAR);
    pci_host_config_write(f->host, PCI_SBDF(0, 0, DEVFN), PCI_COMMAND, 2,
                          PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    find_caps(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    device_destroy(f->dev);
    pci_host_free(f->host);
    test_board_fini(&f->b);
    free(f);
    return 0;
}

/* Negotiate VERSION_1 and set up queue 0 with `num` entries; status DRIVER_OK. */
static void driver_init(Fixture *f, uint16_t num)
{
    memset(f->b.ram_ptr, 0, 0x4000);
    uint32_t c = f->common;
    wr(f, c + CC_STATUS, 0, 1);
    wr(f, c + CC_STATUS, 3, 1);
    wr(f, c + CC_DFSELECT, 1, 4);
    assert_int_equal(rd(f, c + CC_DF, 4), 1);
    wr(f, c + CC_GFSELECT, 1, 4);
    wr(f, c + CC_GF, 1, 4);
    wr(f, c + CC_STATUS, 11, 1);
    assert_int_equal(rd(f, c + CC_STATUS, 1), 11);
    wr(f, c + CC_Q_SELECT, 0, 2);
    assert_int_equal(rd(f, c + CC_Q_SIZE, 2), 64);              /* the maximum, at first */
    wr(f, c + CC_Q_SIZE, num, 2);
    wr(f, c + CC_Q_DESCLO, DESC, 4);
    wr(f, c + CC_Q_DESCHI, 0, 4);
    wr(f, c + CC_Q_AVAILLO, AVAIL, 4);
    wr(f, c + CC_Q_USEDLO, USED, 4);
    wr(f, c + CC_Q_ENABLE, 1, 2);
    wr(f, c + CC_STATUS, 15, 1);
}

static void post_one(Fixture *f, uint32_t len)
{
    uint8_t *ram = f->b.ram_ptr;
    uint64_t addr = BUF;
    uint16_t flags = 2, idx = 1;                                /* WRITE */
    memcpy(ram + DESC, &addr, 8);
    memcpy(ram + DESC + 8, &len, 4);
    memcpy(ram + DESC + 12, &flags, 2);
    memcpy(ram + AVAIL + 2, &idx, 2);
    uint32_t q = (uint32_t)rd(f, f->common + CC_Q_NOFF, 2);
    wr(f, f->notify + q * f->multiplier, 0, 2);
}

static void function_and_capabilities(void **state)
{
    Fixture *f = *state;
    assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 2), 0x1af4);
    assert_int_equal(cfg_rd(f, PCI_DEVICE_ID, 2), 0x1044);      /* 0x1040 + entropy */
    assert_int_equal(cfg_rd(f, PCI_REVISION_ID, 1), 1);
    assert_int_equal(cfg_rd(f, PCI_INTERRUPT_PIN, 1), 1);
    assert_int_equal(f->multiplier, 4);
    assert_int_equal(rd(f, f->common + CC_NUMQ, 2), 1);
    /* Fields take their own width only. */
    assert_int_equal(rd(f, f->common + CC_STATUS, 4), 0xffffffffu);
    wr(f, f->common + CC_STATUS, 3, 2);
    assert_int_equal(rd(f, f->common + CC_STATUS, 1), 0);
}

static void fills_a_buffer_and_raises_inta_until_isr_is_read(void **state)
{
    Fixture *f = *state;
    driver_init(f, 8);
    post_one(f, 48);
    uint16_t used_idx;
    uint32_t used_len;
    memcpy(&used_idx, f->b.ram_ptr + USED + 2, 2);
    memcpy(&used_len, f->b.ram_ptr + USED + 8, 4);
    assert_int_equal(used_idx, 1);
    assert_int_equal(used_len, 48);
    static const uint8_t zeros[48];
    assert_memory_not_equal(f->b.ram_ptr + BUF, zeros, 48);
    assert_true(f->b.irqs.intx.level);
    assert_int_equal(f->b.irqs.intx.sbdf, PCI_SBDF(0, 0, DEVFN));
    assert_int_equal(rd(f, f->isr, 1), 1);                       /* read clears it */
    assert_false(f->b.irqs.intx.level);
    assert_int_equal(rd(f, f->isr, 1), 0);
}

static void a_broken_queue_needs_a_reset(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    driver_init(f, 4);
    uint64_t outside = 0xf0000000u;                             /* not guest RAM */
    memcpy(f->b.ram_ptr + DESC, &outside, 8);
    uint32_t len = 16;
    uint16_t flags = 2, idx = 1;
    memcpy(f->b.ram_ptr + DESC + 8, &len, 4);
    memcpy(f->b.ram_ptr + DESC + 12, &flags, 2);
    memcpy(f->b.ram_ptr + AVAIL + 2, &idx, 2);
    wr(f, f->notify, 0, 2);
    assert_true(rd(f, f->common + CC_STATUS, 1) & 64);          /* DEVICE_NEEDS_RESET */
    assert_int_equal(rd(f, f->isr, 1), 2);                       /* configuration change */
    driver_init(f, 4);                                          /* a reset recovers */
    post_one(f, 8);
    uint16_t used_idx;
    memcpy(&used_idx, f->b.ram_ptr + USED + 2, 2);
    assert_int_equal(used_idx, 1);
    wr(f, f->common + CC_Q_SIZE, 3, 2);                         /* frozen while enabled */
    assert_int_equal(rd(f, f->common + CC_Q_SIZE, 2), 4);
    log_set_level(LOG_WARN);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(function_and_capabilities),
        T(fills_a_buffer_and_raises_inta_until_isr_is_read),
        T(a_broken_queue_needs_a_reset),
    };
    return cmocka_run_group_tests_name("virtio_pci", tests, NULL, NULL);
}
