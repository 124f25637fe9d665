/*
 * Unit tests for the modern virtio-pci transport (devices/virtio_pci.c) with the
 * entropy device ("virtio-rng-pci"): what a guest's virtio_pci driver does — find the
 * function and walk its vendor capabilities, place BAR 0, negotiate through the common
 * configuration, set up a queue with 32-bit halves, kick it through the notify area —
 * and the device's answers: random bytes in the buffer, the used ring, INTA raised
 * until the ISR byte is read. Wrong-width accesses and a broken queue are refused
 * without harm. With MSI-X (enabled in config space, table programmed in BAR 0,
 * vectors assigned through the common configuration) events become messages:
 * the queue's vector for used buffers, msix_config for configuration changes, pending
 * while masked, and INTA stays low.
 */
#include "tests/unit/support.h"

#include <linux/pci_regs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/pci.h"
#include "devices/pci_msix.h"
#include "devices/virtio.h"
#include "util/log.h"

#define RAM_SIZE 0x100000u
#define BAR      0x20000000u
#define DEVFN    PCI_DEVFN(3, 0)
#define DESC     0x1000u
#define AVAIL    0x2000u
#define USED     0x3000u
#define BUF      0x10000u

enum { CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c,
       CC_MSIX = 0x10, CC_NUMQ = 0x12, CC_STATUS = 0x14, CC_CFGGEN = 0x15,
       CC_Q_SELECT = 0x16, CC_Q_SIZE = 0x18, CC_Q_MSIX = 0x1a, CC_Q_ENABLE = 0x1c,
       CC_Q_NOFF = 0x1e, CC_Q_DESCLO = 0x20, CC_Q_DESCHI = 0x24, CC_Q_AVAILLO = 0x28,
       CC_Q_USEDLO = 0x30 };

#define NO_VECTOR     0xffff
#define CONFIG_VECTOR 0             /* as Linux assigns them: configuration first */
#define QUEUE_VECTOR  1
#define MSI_ADDR      0xfee00000u

typedef struct Fixture {
    TestBoard b;
    PciHost *host;
    Device *dev;
    uint32_t common, isr, notify, multiplier;   /* from the capabilities */
    uint32_t device;                            /* device configuration, 0: none */
    uint32_t msix_cap, msix_table, msix_pba;    /* from the MSI-X capability */
} Fixture;

static uint32_t cfg_rd(Fixture *f, uint32_t reg, unsigned size)
{
    return pci_host_config_read(f->host, PCI_SBDF(0, 0, DEVFN), reg, size);
}

static uint64_t rd(Fixture *f, uint32_t off, unsigned size)
{
    return test_board_read(&f->b, BAR + off, size);
}

static void wr(Fixture *f, uint32_t off, uint64_t v, unsigned size)
{
    test_board_write(&f->b, BAR + off, v, size);
}

static void cfg_wr(Fixture *f, uint32_t reg, unsigned size, uint32_t v)
{
    pci_host_config_write(f->host, PCI_SBDF(0, 0, DEVFN), reg, size, v);
}

/* The MSI-X capability: the table and the PBA must be in BAR 0. */
static void note_msix(Fixture *f, uint32_t at)
{
    f->msix_cap = at;
    f->msix_table = cfg_rd(f, at + PCI_MSIX_TABLE, 4);
    f->msix_pba = cfg_rd(f, at + PCI_MSIX_PBA, 4);
    assert_int_equal(f->msix_table & PCI_MSIX_TABLE_BIR, 0);
    assert_int_equal(f->msix_pba & PCI_MSIX_PBA_BIR, 0);
}

/* Walk the capability list as the Linux driver does, keeping the virtio ones. */
static void find_caps(Fixture *f)
{
    assert_true(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    unsigned found = 0;
    for (uint32_t at = cfg_rd(f, PCI_CAPABILITY_LIST, 1); at; at = cfg_rd(f, at + 1, 1)) {
        if (cfg_rd(f, at, 1) == PCI_CAP_ID_MSIX) {
            note_msix(f, at);
            continue;
        }
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
        } else if (type == 4) {
            f->device = off;
        }
        found++;
        assert_true(found <= 4);
    }
    assert_int_equal(found, f->device ? 4 : 3);     /* the entropy device has no config */
    assert_int_not_equal(f->msix_cap, 0);
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

/* Offer descriptor 0 (a device-writable buffer of len bytes) once more and kick. */
static void post_one(Fixture *f, uint32_t len)
{
    uint8_t *ram = f->b.ram_ptr;
    uint64_t addr = BUF;
    uint16_t flags = 2, idx;                                    /* WRITE */
    memcpy(ram + DESC, &addr, 8);
    memcpy(ram + DESC + 8, &len, 4);
    memcpy(ram + DESC + 12, &flags, 2);
    memcpy(&idx, ram + AVAIL + 2, 2);
    idx++;
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

/* ---- MSI-X ---- */

static uint16_t used_idx(Fixture *f)
{
    uint16_t idx;
    memcpy(&idx, f->b.ram_ptr + USED + 2, 2);
    return idx;
}

static void msix_control(Fixture *f, uint16_t flags)
{
    cfg_wr(f, f->msix_cap + PCI_MSIX_FLAGS, 2, flags);
}

/* Table entry v: address MSI_ADDR + 0x1000 * v, data 0x4000 + v. */
static void msix_program(Fixture *f, unsigned v, bool masked)
{
    uint32_t e = f->msix_table + v * PCI_MSIX_ENTRY_SIZE;
    wr(f, e + PCI_MSIX_ENTRY_LOWER_ADDR, MSI_ADDR + 0x1000 * v, 4);
    wr(f, e + PCI_MSIX_ENTRY_UPPER_ADDR, 0, 4);
    wr(f, e + PCI_MSIX_ENTRY_DATA, 0x4000 + v, 4);
    wr(f, e + PCI_MSIX_ENTRY_VECTOR_CTRL, masked, 4);
}

static void assert_last_msi_is(Fixture *f, unsigned v)
{
    TestMsi m = test_irqs_msi(&f->b.irqs, 0);
    assert_int_equal(m.addr, MSI_ADDR + 0x1000 * v);
    assert_int_equal(m.data, 0x4000 + v);
}

/* What Linux's virtio_pci does with MSI-X: enable it, program a vector for
 * configuration changes and one for the queue, and assign them. */
static void driver_init_msix(Fixture *f)
{
    driver_init(f, 8);
    msix_control(f, PCI_MSIX_FLAGS_ENABLE);
    msix_program(f, CONFIG_VECTOR, false);
    msix_program(f, QUEUE_VECTOR, false);
    wr(f, f->common + CC_MSIX, CONFIG_VECTOR, 2);
    assert_int_equal(rd(f, f->common + CC_MSIX, 2), CONFIG_VECTOR);
    wr(f, f->common + CC_Q_SELECT, 0, 2);
    wr(f, f->common + CC_Q_MSIX, QUEUE_VECTOR, 2);
    assert_int_equal(rd(f, f->common + CC_Q_MSIX, 2), QUEUE_VECTOR);
}

static void msix_capability_and_vector_registers(void **state)
{
    Fixture *f = *state;
    uint32_t c = f->common;
    assert_int_equal(cfg_rd(f, f->msix_cap + PCI_MSIX_FLAGS, 2), 1);  /* 2 vectors */
    assert_true(f->msix_table >= 0x4000);       /* after the registers, apart from them */
    assert_int_equal(rd(f, c + CC_MSIX, 2), NO_VECTOR);
    assert_int_equal(rd(f, c + CC_Q_MSIX, 2), NO_VECTOR);
    wr(f, c + CC_MSIX, 1, 2);
    assert_int_equal(rd(f, c + CC_MSIX, 2), 1);
    wr(f, c + CC_MSIX, 2, 2);                   /* beyond the table: mapping refused */
    assert_int_equal(rd(f, c + CC_MSIX, 2), NO_VECTOR);
    wr(f, c + CC_MSIX, 0, 4);                   /* wrong width: ignored */
    assert_int_equal(rd(f, c + CC_MSIX, 2), NO_VECTOR);
    wr(f, c + CC_Q_SELECT, 0, 2);
    wr(f, c + CC_Q_MSIX, 0, 2);
    assert_int_equal(rd(f, c + CC_Q_MSIX, 2), 0);
    wr(f, c + CC_Q_MSIX, 0xfffe, 2);
    assert_int_equal(rd(f, c + CC_Q_MSIX, 2), NO_VECTOR);
    wr(f, c + CC_Q_MSIX, 1, 2);
    wr(f, c + CC_Q_SELECT, 7, 2);               /* no such queue */
    wr(f, c + CC_Q_MSIX, 0, 2);
    assert_int_equal(rd(f, c + CC_Q_MSIX, 2), NO_VECTOR);
    wr(f, c + CC_Q_SELECT, 0, 2);
    assert_int_equal(rd(f, c + CC_Q_MSIX, 2), 1);
    wr(f, c + CC_MSIX, 0, 2);
    wr(f, c + CC_STATUS, 0, 1);                 /* a reset forgets the assignment */
    assert_int_equal(rd(f, c + CC_MSIX, 2), NO_VECTOR);
    assert_int_equal(rd(f, c + CC_Q_MSIX, 2), NO_VECTOR);
}

static void msix_delivers_the_queue_vector_and_inta_stays_low(void **state)
{
    Fixture *f = *state;
    driver_init_msix(f);
    unsigned intx_changes = f->b.irqs.changes;
    post_one(f, 16);
    assert_int_equal(used_idx(f), 1);
    assert_int_equal(f->b.irqs.msis, 1);
    assert_last_msi_is(f, QUEUE_VECTOR);
    post_one(f, 16);
    assert_int_equal(used_idx(f), 2);
    assert_int_equal(f->b.irqs.msis, 2);
    assert_last_msi_is(f, QUEUE_VECTOR);
    assert_int_equal(f->b.irqs.changes, intx_changes);          /* INTx untouched */
    assert_false(f->b.irqs.intx.level);
    assert_int_equal(rd(f, f->isr, 1), 0);                      /* the ISR is not used */
    wr(f, f->common + CC_Q_MSIX, NO_VECTOR, 2);                 /* no vector: no message */
    post_one(f, 16);
    assert_int_equal(used_idx(f), 3);
    assert_int_equal(f->b.irqs.msis, 2);
    assert_false(f->b.irqs.intx.level);
}

static void configuration_changes_go_to_the_config_vector(void **state)
{
    Fixture *f = *state;
    driver_init_msix(f);
    uint32_t generation = (uint32_t)rd(f, f->common + CC_CFGGEN, 1);
    virtio_core_config_changed(virtio_device_core(f->dev));
    assert_int_equal(rd(f, f->common + CC_CFGGEN, 1), (generation + 1) & 0xff);
    assert_int_equal(f->b.irqs.msis, 1);
    assert_last_msi_is(f, CONFIG_VECTOR);
    assert_false(f->b.irqs.intx.level);
    wr(f, f->common + CC_MSIX, NO_VECTOR, 2);
    virtio_core_config_changed(virtio_device_core(f->dev));
    assert_int_equal(f->b.irqs.msis, 1);
    assert_int_equal(rd(f, f->isr, 1), 0);
}

static void masked_vectors_pend_until_unmasked(void **state)
{
    Fixture *f = *state;
    driver_init_msix(f);
    uint32_t ctrl = f->msix_table + QUEUE_VECTOR * PCI_MSIX_ENTRY_SIZE +
                    PCI_MSIX_ENTRY_VECTOR_CTRL;
    wr(f, ctrl, 1, 4);
    post_one(f, 16);
    assert_int_equal(used_idx(f), 1);
    assert_int_equal(f->b.irqs.msis, 0);
    assert_int_equal(rd(f, f->msix_pba, 8), 1u << QUEUE_VECTOR);
    wr(f, ctrl, 0, 4);
    assert_int_equal(f->b.irqs.msis, 1);
    assert_last_msi_is(f, QUEUE_VECTOR);
    assert_int_equal(rd(f, f->msix_pba, 8), 0);
    /* The function mask, set and cleared in config space, holds every vector. */
    msix_control(f, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    post_one(f, 16);
    virtio_core_config_changed(virtio_device_core(f->dev));
    assert_int_equal(f->b.irqs.msis, 1);
    assert_int_equal(rd(f, f->msix_pba, 8), 1u << QUEUE_VECTOR | 1u << CONFIG_VECTOR);
    msix_control(f, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(f->b.irqs.msis, 3);
    assert_int_equal(rd(f, f->msix_pba, 8), 0);
    assert_false(f->b.irqs.intx.level);
}

/* INTA and MSI-X take turns: enabling MSI-X lowers a raised INTA, disabling it brings
 * back INTA for what the ISR still holds and for new events. */
static void disabling_msix_returns_to_inta(void **state)
{
    Fixture *f = *state;
    driver_init(f, 8);
    post_one(f, 16);
    assert_true(f->b.irqs.intx.level);
    msix_control(f, PCI_MSIX_FLAGS_ENABLE);
    assert_false(f->b.irqs.intx.level);
    msix_control(f, 0);
    assert_true(f->b.irqs.intx.level);
    assert_int_equal(rd(f, f->isr, 1), 1);
    assert_false(f->b.irqs.intx.level);
    driver_init_msix(f);
    msix_control(f, 0);                          /* vectors assigned, MSI-X off again */
    post_one(f, 16);
    assert_int_equal(f->b.irqs.msis, 0);
    assert_true(f->b.irqs.intx.level);
    assert_int_equal(rd(f, f->isr, 1), 1);
}

/* A disk on virtio-pci reset with requests in flight: the status keeps reading what it
 * was (the driver waits for 0) while the loop goes on; the requests complete into the
 * old rings, and then the reset is over. Nothing waits for the disk. */
static void a_disk_reset_completes_once_its_requests_have(void **state)
{
    Fixture *f = *state;
    char img[TEST_PATH_MAX], spec[TEST_PATH_MAX + 64];
    test_image_create(img, 1 << 20);
    device_destroy(f->dev);
    snprintf(spec, sizeof(spec), "virtio-blk-pci,slot=3,file=%s", img);
    Error *err = NULL;
    f->dev = device_create(&f->b.board, spec, &err);
    assert_null(err);
    pci_host_config_write(f->host, PCI_SBDF(0, 0, DEVFN), PCI_BASE_ADDRESS_0, 4, BAR);
    pci_host_config_write(f->host, PCI_SBDF(0, 0, DEVFN), PCI_COMMAND, 2,
                          PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    find_caps(f);
    uint32_t c = f->common;
    uint8_t *ram = f->b.ram_ptr;
    memset(ram, 0, 0x8000);
    wr(f, c + CC_STATUS, 0, 1);
    wr(f, c + CC_STATUS, 3, 1);
    wr(f, c + CC_GFSELECT, 1, 4);
    wr(f, c + CC_GF, 1, 4);
    wr(f, c + CC_STATUS, 11, 1);
    wr(f, c + CC_Q_SELECT, 0, 2);
    wr(f, c + CC_Q_SIZE, 16, 2);
    wr(f, c + CC_Q_DESCLO, DESC, 4);
    wr(f, c + CC_Q_AVAILLO, AVAIL, 4);
    wr(f, c + CC_Q_USEDLO, USED, 4);
    wr(f, c + CC_Q_ENABLE, 1, 2);
    wr(f, c + CC_STATUS, 15, 1);
    /* Four writes: header, 512 bytes, status; three descriptors each. */
    for (uint16_t i = 0; i < 4; i++) {
        uint64_t hdr = 0x5000 + 16 * i, data = BUF, st = 0x6000 + i;
        uint32_t type = 1, hlen = 16, dlen = 512, slen = 1;
        uint64_t sector = i;
        memcpy(ram + hdr, &type, 4);
        memcpy(ram + hdr + 8, &sector, 8);
        ram[st] = 0xee;
        uint16_t d = (uint16_t)(3 * i), next1 = d + 1, next2 = d + 2, fnext = 1, fboth = 1,
                 fwrite = 2;
        uint8_t *desc = ram + DESC + 16 * d;
        memcpy(desc, &hdr, 8); memcpy(desc + 8, &hlen, 4);
        memcpy(desc + 12, &fnext, 2); memcpy(desc + 14, &next1, 2);
        memcpy(desc + 16, &data, 8); memcpy(desc + 24, &dlen, 4);
        memcpy(desc + 28, &fboth, 2); memcpy(desc + 30, &next2, 2);
        memcpy(desc + 32, &st, 8); memcpy(desc + 40, &slen, 4);
        memcpy(desc + 44, &fwrite, 2);
        memcpy(ram + AVAIL + 4 + 2 * i, &d, 2);
    }
    uint16_t idx = 4;
    memcpy(ram + AVAIL + 2, &idx, 2);
    wr(f, f->notify + (uint32_t)rd(f, c + CC_Q_NOFF, 2) * f->multiplier, 0, 2);
    wr(f, c + CC_STATUS, 0, 1);                     /* reset, four requests in flight */
    assert_int_equal(rd(f, c + CC_STATUS, 1), 15);  /* not over yet */
    for (int spins = 0; rd(f, c + CC_STATUS, 1) != 0; spins++) {
        assert_true(spins < 1000);
        struct pollfd p = { .fd = device_poll_fd(f->dev), .events = POLLIN };
        poll(&p, 1, 5);
        assert_true(device_handle_readable(f->dev, NULL) >= 0);
    }
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(ram[0x6000 + i], 0);       /* each completed OK first */
    uint16_t used;
    memcpy(&used, ram + USED + 2, 2);
    assert_int_equal(used, 4);
    assert_int_equal(rd(f, c + CC_Q_ENABLE, 2), 0); /* and the queue is reset */
    unlink(img);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(function_and_capabilities),
        T(fills_a_buffer_and_raises_inta_until_isr_is_read),
        T(a_broken_queue_needs_a_reset),
        T(msix_capability_and_vector_registers),
        T(msix_delivers_the_queue_vector_and_inta_stays_low),
        T(configuration_changes_go_to_the_config_vector),
        T(masked_vectors_pend_until_unmasked),
        T(disabling_msix_returns_to_inta),
        T(a_disk_reset_completes_once_its_requests_have),
    };
    return cmocka_run_group_tests_name("virtio_pci", tests, NULL, NULL);
}
