/*
 * Unit tests for devices/pci_msix.c: a test function with 70 MSI-X vectors (two PBA
 * words), its table and PBA inside a memory BAR that the device otherwise decodes
 * itself, on a PCI host with the fake interrupt router. The guest side goes through
 * config space and the BAR as a driver would: the capability, table reads and writes
 * of dwords and qwords, per-vector and function masking with pending bits, enabling
 * and disabling; hostile accesses and bad layouts are refused without harm.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "devices/pci_msix.h"
#include "util/log.h"
#include "util/macros.h"

#define NR        70
#define BAR       0x40000000u
#define BAR_SIZE  0x4000
#define TABLE     0x1000
#define PBA       0x3000
#define CAP       0x50
#define DEVFN     PCI_DEVFN(5, 0)
#define REGS_WORD 0x5a5a5a5au       /* what the device's own registers read */
#define MSI_ADDR  0xfee00000u

typedef struct Fixture {
    TestBoard b;
    PciHost *host;
    PciDevice dev;
    PciMsix msix;
    MemoryRegion bar, regs;
} Fixture;

static uint64_t regs_read(void *opaque, hwaddr addr, unsigned size)
{
    return REGS_WORD;
}

static void regs_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
}

static const MemoryRegionOps regs_ops = {
    .read = regs_read, .write = regs_write, .endianness = DEVICE_LITTLE_ENDIAN,
};

static void forward_config_write(PciDevice *dev, uint32_t reg, unsigned size)
{
    Fixture *f = container_of(dev, Fixture, dev);
    pci_msix_config_written(&f->msix, reg, size);
}

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    test_board_init(&f->b, 0x10000);
    f->host = pci_host_new(&f->b.mem_root, &f->b.io_root, &f->b.irqs.router, 0, NULL);
    pci_device_init(&f->dev, "msix-test", 0x8086, 0x1234, 0xff0000, 0, 1);
    memory_region_init(&f->bar, NULL, "bar", BAR_SIZE);
    memory_region_init_io(&f->regs, NULL, &regs_ops, f, "regs", BAR_SIZE);
    assert_int_equal(memory_region_add_subregion(&f->bar, 0, &f->regs, NULL), 0);
    assert_int_equal(pci_device_init_bar(&f->dev, 0, PCI_BAR_MEM32, &f->bar, NULL), 0);
    PciMsixLayout layout = { .nr_vectors = NR, .cap_offset = CAP, .bar = 0,
                             .table_offset = TABLE, .pba_offset = PBA };
    assert_int_equal(pci_msix_init(&f->msix, &f->dev, &layout, NULL), 0);
    f->dev.config_written = forward_config_write;
    assert_int_equal(pci_host_register_device(f->host, &f->dev, DEVFN, NULL), 0);
    pci_host_config_write(f->host, PCI_SBDF(0, 0, DEVFN), PCI_BASE_ADDRESS_0, 4, BAR);
    pci_host_config_write(f->host, PCI_SBDF(0, 0, DEVFN), PCI_COMMAND, 2,
                          PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    pci_host_unregister_device(f->host, &f->dev);
    pci_msix_fini(&f->msix);
    memory_region_del_subregion(&f->bar, &f->regs, NULL);
    memory_region_finalize(&f->regs);
    memory_region_finalize(&f->bar);
    pci_host_free(f->host);
    test_board_fini(&f->b);
    free(f);
    return 0;
}

static uint32_t cfg_rd(Fixture *f, uint32_t reg, unsigned size)
{
    return pci_host_config_read(f->host, PCI_SBDF(0, 0, DEVFN), reg, size);
}

static void cfg_wr(Fixture *f, uint32_t reg, unsigned size, uint32_t v)
{
    pci_host_config_write(f->host, PCI_SBDF(0, 0, DEVFN), reg, size, v);
}

/* A read of the BAR; refused accesses leave all ones. */
static uint64_t rd(Fixture *f, uint32_t off, unsigned size)
{
    return test_board_read(&f->b, BAR + off, size);
}

static void wr(Fixture *f, uint32_t off, uint64_t v, unsigned size)
{
    test_board_write(&f->b, BAR + off, v, size);
}

static uint32_t entry(unsigned vector, unsigned field)
{
    return TABLE + vector * PCI_MSIX_ENTRY_SIZE + field;
}

/* Program vector v: address MSI_ADDR + 0x1000 * v, data 0x4000 + v. */
static void program(Fixture *f, unsigned v, bool masked)
{
    wr(f, entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), MSI_ADDR + 0x1000 * v, 4);
    wr(f, entry(v, PCI_MSIX_ENTRY_UPPER_ADDR), 0, 4);
    wr(f, entry(v, PCI_MSIX_ENTRY_DATA), 0x4000 + v, 4);
    wr(f, entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), masked, 4);
}

static void set_mask(Fixture *f, unsigned v, bool masked)
{
    wr(f, entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), masked, 4);
}

static void control(Fixture *f, bool enable, bool function_mask)
{
    cfg_wr(f, CAP + PCI_MSIX_FLAGS, 2, (enable ? PCI_MSIX_FLAGS_ENABLE : 0) |
                                       (function_mask ? PCI_MSIX_FLAGS_MASKALL : 0));
}

static void assert_last_msi_is(Fixture *f, unsigned ago, unsigned v)
{
    TestMsi m = test_irqs_msi(&f->b.irqs, ago);
    assert_int_equal(m.addr, MSI_ADDR + 0x1000 * v);
    assert_int_equal(m.data, 0x4000 + v);
}

static bool pba_bit(Fixture *f, unsigned v)
{
    return rd(f, PBA + v / 64 * 8, 8) >> (v % 64) & 1;
}

/* ---- the capability ---- */

static void capability_describes_table_and_pba(void **state)
{
    Fixture *f = *state;
    assert_true(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    assert_int_equal(cfg_rd(f, PCI_CAPABILITY_LIST, 1), CAP);
    assert_int_equal(cfg_rd(f, CAP, 2), PCI_CAP_ID_MSIX);      /* and the last */
    assert_int_equal(cfg_rd(f, CAP + PCI_MSIX_FLAGS, 2), NR - 1);
    assert_int_equal(cfg_rd(f, CAP + PCI_MSIX_TABLE, 4), TABLE | 0);    /* BIR 0 */
    assert_int_equal(cfg_rd(f, CAP + PCI_MSIX_PBA, 4), PBA | 0);
    /* Only Enable and Function Mask are writable; the 4-byte write covers them too. */
    cfg_wr(f, CAP, 4, 0xffffffff);
    cfg_wr(f, CAP + PCI_MSIX_TABLE, 4, 0x12345678);
    cfg_wr(f, CAP + PCI_MSIX_PBA, 1, 0x55);
    assert_int_equal(cfg_rd(f, CAP, 2), PCI_CAP_ID_MSIX);
    assert_int_equal(cfg_rd(f, CAP + PCI_MSIX_FLAGS, 2),
                     PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NR - 1));
    assert_int_equal(cfg_rd(f, CAP + PCI_MSIX_TABLE, 4), TABLE);
    assert_int_equal(cfg_rd(f, CAP + PCI_MSIX_PBA, 4), PBA);
    assert_true(pci_msix_enabled(&f->msix));
    cfg_wr(f, CAP + PCI_MSIX_FLAGS + 1, 1, 0);                  /* the high byte alone */
    assert_false(pci_msix_enabled(&f->msix));
    assert_int_equal(cfg_rd(f, CAP + PCI_MSIX_FLAGS, 2), NR - 1);
}

/* ---- the table ---- */

static void table_reads_and_writes(void **state)
{
    Fixture *f = *state;
    for (unsigned v = 0; v < NR; v += NR - 1) {                 /* the first and the last */
        assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 8), 0);
        assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_DATA), 4), 0);
        assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4), 1);   /* masked */
    }
    unsigned v = 7;
    wr(f, entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 0xfee01003, 4);  /* bits 1:0 read 0 */
    wr(f, entry(v, PCI_MSIX_ENTRY_UPPER_ADDR), 0x1, 4);
    wr(f, entry(v, PCI_MSIX_ENTRY_DATA), 0xdeadbeef, 4);
    wr(f, entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 0xfffffffe, 4); /* reserved bits read 0 */
    assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 4), 0xfee01000);
    assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_UPPER_ADDR), 4), 1);
    assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_DATA), 4), 0xdeadbeef);
    assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4), 0);
    wr(f, entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 0xffffffff, 4);
    assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4), 1);
    /* Qwords: the address as one, data and control as one. */
    wr(f, entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 0x00000002fee02004ull, 8);
    wr(f, entry(v, PCI_MSIX_ENTRY_DATA), 0x0000000000004077ull, 8);
    assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 8), 0x00000002fee02004ull);
    assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_UPPER_ADDR), 4), 2);
    assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_DATA), 8), 0x4077);
    assert_int_equal(rd(f, entry(v - 1, PCI_MSIX_ENTRY_DATA), 4), 0);   /* neighbours */
    assert_int_equal(rd(f, entry(v + 1, PCI_MSIX_ENTRY_LOWER_ADDR), 4), 0);
    /* The device's own registers stay where MSI-X is not. */
    assert_int_equal(rd(f, 0, 4), REGS_WORD);
    assert_int_equal(rd(f, entry(NR, 0), 4), REGS_WORD);
    assert_int_equal(rd(f, PBA - 4, 4), REGS_WORD);
    assert_int_equal(rd(f, PBA + 16, 4), REGS_WORD);
}

static void bad_accesses_are_refused(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    program(f, 2, false);
    uint32_t data = entry(2, PCI_MSIX_ENTRY_DATA);
    assert_int_equal(rd(f, data, 1), 0xff);                     /* bytes and words */
    assert_int_equal(rd(f, data, 2), 0xffff);
    assert_int_equal(rd(f, data + 2, 4), 0xffffffff);           /* unaligned */
    wr(f, data, 0x11, 1);
    wr(f, data, 0x1111, 2);
    wr(f, data + 2, 0x11111111, 4);
    assert_int_equal(rd(f, data, 4), 0x4002);
    /* One ioreq of an unaligned qword (the address space would cut it into dwords). */
    uint64_t got = 0;
    MemoryRegion *table = &f->msix.table_mr;
    assert_int_equal(memory_region_dispatch_read(table, entry(2, 4) - TABLE, &got, 8,
                                                 MEMTXATTRS_UNSPECIFIED), MEMTX_ACCESS_ERROR);
    assert_int_equal(got, UINT64_MAX);
    assert_int_equal(memory_region_dispatch_write(table, entry(2, 4) - TABLE, 0, 8,
                                                  MEMTXATTRS_UNSPECIFIED), MEMTX_ACCESS_ERROR);
    assert_int_equal(rd(f, data, 4), 0x4002);
    assert_int_equal(rd(f, PBA, 1), 0xff);
    wr(f, PBA, UINT64_MAX, 8);                                  /* read-only */
    wr(f, PBA + 8, UINT32_MAX, 4);
    assert_int_equal(rd(f, PBA, 8), 0);
    assert_int_equal(rd(f, PBA + 8, 8), 0);
    assert_int_equal(pci_msix_notify(&f->msix, NR), -EINVAL);
    assert_int_equal(pci_msix_notify(&f->msix, UINT32_MAX), -EINVAL);
    /* Whatever a guest throws at the BAR, the table stays a table. */
    uint64_t seed = test_seed("msix bar fuzz");
    for (int i = 0; i < 20000; i++) {
        uint32_t off = TABLE - 16 + (uint32_t)test_rand_below(&seed, PBA - TABLE + 64);
        unsigned size = 1u << test_rand_below(&seed, 4);
        if (test_rand(&seed) & 1)
            wr(f, off, test_rand(&seed), size);
        else
            (void)rd(f, off, size);
    }
    assert_int_equal(rd(f, PBA, 8), 0);
    for (unsigned v = 0; v < NR; v++) {
        assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_LOWER_ADDR), 4) & 3, 0);
        assert_int_equal(rd(f, entry(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4) & ~1u, 0);
    }
    assert_int_equal(f->b.irqs.msis, 0);                        /* MSI-X was never on */
    log_set_level(LOG_WARN);
}

/* ---- sending ---- */

static void notify_sends_the_programmed_message(void **state)
{
    Fixture *f = *state;
    control(f, true, false);
    program(f, 3, false);
    assert_int_equal(pci_msix_notify(&f->msix, 3), 0);
    assert_int_equal(f->b.irqs.msis, 1);
    assert_last_msi_is(f, 0, 3);
    program(f, NR - 1, false);
    wr(f, entry(NR - 1, PCI_MSIX_ENTRY_UPPER_ADDR), 0x1, 4);   /* 64-bit addresses pass */
    assert_int_equal(pci_msix_notify(&f->msix, NR - 1), 0);
    assert_int_equal(test_irqs_msi(&f->b.irqs, 0).addr,
                     0x100000000ull + MSI_ADDR + 0x1000 * (NR - 1));
    assert_int_equal(pci_msix_notify(&f->msix, 3), 0);          /* every event, a message */
    assert_int_equal(f->b.irqs.msis, 3);
    assert_last_msi_is(f, 0, 3);
    assert_int_equal(rd(f, PBA, 8), 0);
    assert_int_equal(rd(f, PBA + 8, 8), 0);
}

static void masked_vector_is_pending_until_unmasked(void **state)
{
    Fixture *f = *state;
    control(f, true, false);
    program(f, 5, true);
    assert_int_equal(pci_msix_notify(&f->msix, 5), 0);
    assert_int_equal(pci_msix_notify(&f->msix, 5), 0);          /* still one pending */
    assert_int_equal(f->b.irqs.msis, 0);
    assert_int_equal(rd(f, PBA, 4), 1u << 5);
    set_mask(f, 5, false);
    assert_int_equal(f->b.irqs.msis, 1);
    assert_last_msi_is(f, 0, 5);
    assert_false(pba_bit(f, 5));
    set_mask(f, 5, true);
    set_mask(f, 5, false);                                      /* nothing left to send */
    assert_int_equal(f->b.irqs.msis, 1);
    /* A vector in the second PBA word. */
    program(f, 65, true);
    pci_msix_notify(&f->msix, 65);
    assert_int_equal(rd(f, PBA + 8, 4), 1u << 1);
    assert_int_equal(rd(f, PBA + 8, 8), 1u << 1);
    assert_int_equal(rd(f, PBA, 8), 0);
    wr(f, entry(65, PCI_MSIX_ENTRY_DATA), 0x0000000000004041ull, 8);   /* data + unmask */
    assert_int_equal(f->b.irqs.msis, 2);
    assert_int_equal(test_irqs_msi(&f->b.irqs, 0).data, 0x4041);
    assert_false(pba_bit(f, 65));
}

static void function_mask_holds_every_vector(void **state)
{
    Fixture *f = *state;
    control(f, true, true);
    program(f, 1, false);
    program(f, 2, false);
    program(f, 3, true);
    for (unsigned v = 1; v <= 3; v++)
        pci_msix_notify(&f->msix, v);
    assert_int_equal(rd(f, PBA, 4), 0xe);
    set_mask(f, 1, false);                                      /* the function mask rules */
    assert_int_equal(f->b.irqs.msis, 0);
    control(f, true, false);
    assert_int_equal(f->b.irqs.msis, 2);
    assert_last_msi_is(f, 1, 1);
    assert_last_msi_is(f, 0, 2);
    assert_int_equal(rd(f, PBA, 4), 0x8);                       /* 3 has its own mask */
    control(f, true, false);                                    /* no change, nothing more */
    assert_int_equal(f->b.irqs.msis, 2);
    set_mask(f, 3, false);
    assert_int_equal(f->b.irqs.msis, 3);
    assert_last_msi_is(f, 0, 3);
}

static void disabled_msix_never_sends(void **state)
{
    Fixture *f = *state;
    program(f, 1, false);
    assert_int_equal(pci_msix_notify(&f->msix, 1), 0);          /* off: nothing, not pending */
    assert_false(pba_bit(f, 1));
    control(f, true, false);
    assert_int_equal(f->b.irqs.msis, 0);
    /* Pending, then disabled: unmasking sends nothing; enabling again does. */
    set_mask(f, 1, true);
    pci_msix_notify(&f->msix, 1);
    control(f, false, false);
    set_mask(f, 1, false);
    pci_msix_notify(&f->msix, 1);
    assert_int_equal(f->b.irqs.msis, 0);
    assert_true(pba_bit(f, 1));
    control(f, true, false);
    assert_int_equal(f->b.irqs.msis, 1);
    assert_last_msi_is(f, 0, 1);
    assert_false(pba_bit(f, 1));
}

static void undeliverable_messages_are_reported(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    control(f, true, false);
    program(f, 4, false);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);              /* bus mastering off */
    assert_int_equal(pci_msix_notify(&f->msix, 4), -EACCES);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    f->b.irqs.fail_with = -EIO;
    assert_int_equal(pci_msix_notify(&f->msix, 4), -EIO);
    f->b.irqs.fail_with = 0;
    assert_int_equal(f->b.irqs.msis, 0);
    assert_false(pba_bit(f, 4));
    assert_int_equal(pci_msix_notify(&f->msix, 4), 0);
    assert_int_equal(f->b.irqs.msis, 1);
    log_set_level(LOG_WARN);
}

/* ---- set-up errors ---- */

static void init_refuses_bad_layouts(void **state)
{
    Fixture *f = *state;
    PciDevice dev;
    MemoryRegion mem, io, plain;
    PciMsix msix;
    pci_device_init(&dev, "bad-msix", 0x8086, 0x1234, 0xff0000, 0, 0);
    memory_region_init(&mem, NULL, "mem", 0x1000);
    memory_region_init_io(&io, NULL, &regs_ops, f, "io", 0x100);
    memory_region_init_io(&plain, NULL, &regs_ops, f, "plain", 0x1000);
    assert_int_equal(pci_device_init_bar(&dev, 0, PCI_BAR_MEM32, &mem, NULL), 0);
    assert_int_equal(pci_device_init_bar(&dev, 1, PCI_BAR_IO, &io, NULL), 0);
    assert_int_equal(pci_device_init_bar(&dev, 2, PCI_BAR_MEM32, &plain, NULL), 0);
#define LAYOUT(n, cap, bar_, table, pba)                                               \
    { .nr_vectors = (n), .cap_offset = (cap), .bar = (bar_), .table_offset = (table),  \
      .pba_offset = (pba) }
    static const PciMsixLayout bad[] = {
        LAYOUT(0, 0x40, 0, 0, 0x800),                           /* no vectors */
        LAYOUT(PCI_MSIX_MAX_VECTORS + 1, 0x40, 0, 0, 0x800),    /* too many */
        LAYOUT(4, 0x40, 6, 0, 0x800),                           /* no such BAR */
        LAYOUT(4, 0x40, 3, 0, 0x800),                           /* BAR not declared */
        LAYOUT(4, 0x40, 1, 0, 0x80),                            /* an I/O BAR */
        LAYOUT(4, 0x40, 2, 0, 0x800),                           /* not a container */
        LAYOUT(4, 0x40, 0, 4, 0x800),                           /* table misaligned */
        LAYOUT(4, 0x40, 0, 0, 0x1000),                          /* PBA outside */
        LAYOUT(4, 0x40, 0, 0, 0x38),                            /* PBA inside the table */
        LAYOUT(4, 0x40, 0, 0xff8, 0x800),                       /* table runs out */
        LAYOUT(300, 0x40, 0, 0, 0xff0),                         /* table larger than BAR */
        LAYOUT(4, 0x30, 0, 0, 0x800),                           /* cap in the header */
        LAYOUT(4, 0xf8, 0, 0, 0x800),                           /* cap runs out */
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        Error *err = NULL;
        assert_true(pci_msix_init(&msix, &dev, &bad[i], &err) < 0);
        assert_non_null(err);
        error_free(err);
        pci_msix_fini(&msix);                                   /* harmless after failure */
        assert_true(TAILQ_EMPTY(&mem.subregions));
        assert_int_equal(dev.config[PCI_CAPABILITY_LIST], 0);
    }
    /* The same BAR takes a good layout, and gives the regions back. */
    PciMsixLayout good = LAYOUT(4, 0x40, 0, 0, 0x40);
#undef LAYOUT
    assert_int_equal(pci_msix_init(&msix, &dev, &good, NULL), 0);
    assert_false(TAILQ_EMPTY(&mem.subregions));
    pci_msix_fini(&msix);
    pci_msix_fini(&msix);
    assert_true(TAILQ_EMPTY(&mem.subregions));
    memory_region_finalize(&mem);
    memory_region_finalize(&io);
    memory_region_finalize(&plain);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(capability_describes_table_and_pba),
        T(table_reads_and_writes),
        T(bad_accesses_are_refused),
        T(notify_sends_the_programmed_message),
        T(masked_vector_is_pending_until_unmasked),
        T(function_mask_holds_every_vector),
        T(disabled_msix_never_sends),
        T(undeliverable_messages_are_reported),
        T(init_refuses_bad_layouts),
    };
    return cmocka_run_group_tests_name("pci_msix", tests, NULL, NULL);
}
