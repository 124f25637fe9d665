/* Unit tests for devices/pci_host.c: config space, BAR sizing and mapping through the
 * memory API (checked with address-space lookups and a counting listener), INTx,
 * capabilities, the device's config_written callback, sending MSIs, the Xen
 * registration hooks, 0xcf8/0xcfc and hostile accesses. */
#include "tests/unit/support.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "devices/irq.h"
#include "devices/pci.h"
#include "util/log.h"
#include "util/macros.h"

#define PCI_HEADER_MULTI_FUNCTION 0x80

/* ---- fakes ---- */

typedef struct HookLog {
    uint32_t added[8], removed[8];
    unsigned nadded, nremoved;
    int fail_with;
} HookLog;

static int hook_added(void *opaque, uint32_t sbdf, Error **errp)
{
    HookLog *h = opaque;
    if (h->fail_with) {
        error_setg(errp, "map_pcidev_to_ioreq_server failed");
        return h->fail_with;
    }
    h->added[h->nadded++ % 8] = sbdf;
    return 0;
}

static void hook_removed(void *opaque, uint32_t sbdf)
{
    HookLog *h = opaque;
    h->removed[h->nremoved++ % 8] = sbdf;
}

/* ---- a dummy function with a memory, an I/O and a 64-bit prefetchable BAR ---- */

static uint64_t dummy_read(void *opaque, hwaddr addr, unsigned size) { return 0x5a; }
static void dummy_write(void *opaque, hwaddr addr, uint64_t data, unsigned size) { }
static const MemoryRegionOps dummy_ops = { .read = dummy_read, .write = dummy_write };

typedef struct Fixture {
    MemoryRegion mem_root, io_root;
    AddressSpace as_mem, as_io;
    TestIrqs irqs;
    PciHost *host;
    PciDevice dev;
    MemoryRegion bar0, bar1, bar2;
    TestCountingListener counts;
    uint32_t sbdf;
    struct { uint32_t reg; unsigned size, calls; uint8_t command; } written;
} Fixture;

#define DEVFN PCI_DEVFN(3, 0)

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    memory_region_init(&f->mem_root, NULL, "system", UINT64_MAX);
    memory_region_init(&f->io_root, NULL, "io", 0x10000);
    assert_int_equal(address_space_init(&f->as_mem, &f->mem_root, "memory", NULL), 0);
    assert_int_equal(address_space_init(&f->as_io, &f->io_root, "io", NULL), 0);
    test_irqs_init(&f->irqs);
    f->host = pci_host_new(&f->mem_root, &f->io_root, &f->irqs.router, 0, NULL);
    assert_non_null(f->host);
    pci_device_init(&f->dev, "dummy", 0x8086, 0x1234, 0x020000, 0x03, 1);
    memory_region_init_io(&f->bar0, NULL, &dummy_ops, f, "bar0", 0x1000);
    memory_region_init_io(&f->bar1, NULL, &dummy_ops, f, "bar1", 0x20);
    memory_region_init_io(&f->bar2, NULL, &dummy_ops, f, "bar2", 0x100000);
    assert_int_equal(pci_device_init_bar(&f->dev, 0, PCI_BAR_MEM32, &f->bar0, NULL), 0);
    assert_int_equal(pci_device_init_bar(&f->dev, 1, PCI_BAR_IO, &f->bar1, NULL), 0);
    assert_int_equal(pci_device_init_bar(&f->dev, 2, PCI_BAR_MEM64_PREFETCH, &f->bar2, NULL),
                     0);
    assert_int_equal(pci_host_register_device(f->host, &f->dev, DEVFN, NULL), 0);
    f->sbdf = PCI_SBDF(0, 0, DEVFN);
    test_counting_listener_init(&f->counts);
    memory_listener_register(&f->counts.l, &f->as_mem);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    memory_listener_unregister(&f->counts.l);
    pci_host_unregister_device(f->host, &f->dev);
    pci_host_free(f->host);
    memory_region_finalize(&f->bar0);
    memory_region_finalize(&f->bar1);
    memory_region_finalize(&f->bar2);
    address_space_destroy(&f->as_mem);
    address_space_destroy(&f->as_io);
    memory_region_finalize(&f->mem_root);
    memory_region_finalize(&f->io_root);
    free(f);
    return 0;
}

static uint32_t cfg_rd(Fixture *f, uint32_t reg, unsigned size)
{
    return pci_host_config_read(f->host, f->sbdf, reg, size);
}

static void cfg_wr(Fixture *f, uint32_t reg, unsigned size, uint32_t v)
{
    pci_host_config_write(f->host, f->sbdf, reg, size, v);
}

static MemoryRegion *mem_at(Fixture *f, hwaddr addr)
{
    return address_space_lookup(&f->as_mem, addr).mr;
}

static MemoryRegion *io_at(Fixture *f, hwaddr addr)
{
    return address_space_lookup(&f->as_io, addr).mr;
}

static void reset_counts(Fixture *f)
{
    f->counts.adds = f->counts.dels = f->counts.nops = f->counts.commits = 0;
}

/* ---- header ---- */

static void header_fields(void **state)
{
    Fixture *f = *state;
    assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 4), 0x12348086);
    assert_int_equal(cfg_rd(f, PCI_DEVICE_ID, 2), 0x1234);
    assert_int_equal(cfg_rd(f, PCI_CLASS_REVISION, 4), 0x02000003);
    assert_int_equal(cfg_rd(f, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
    assert_int_equal(cfg_rd(f, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x12348086);
    assert_int_equal(cfg_rd(f, PCI_INTERRUPT_PIN, 1), 1);
    assert_int_equal(cfg_rd(f, PCI_COMMAND, 2), 0);
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_1, 4), PCI_BASE_ADDRESS_SPACE_IO);
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_2, 4),
                     PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    assert_ptr_equal(pci_host_find_device(f->host, DEVFN), &f->dev);
    assert_int_equal(pci_device_sbdf(&f->dev), f->sbdf);
}

static void absent_functions_read_all_ones(void **state)
{
    Fixture *f = *state;
    assert_int_equal(pci_host_config_read(f->host, PCI_SBDF(0, 0, 0), 0, 4), 0xffffffff);
    assert_int_equal(pci_host_config_read(f->host, PCI_SBDF(0, 0, 0), 0, 2), 0xffff);
    assert_int_equal(pci_host_config_read(f->host, PCI_SBDF(0, 0, 0), 0, 1), 0xff);
    assert_int_equal(pci_host_config_read(f->host, PCI_SBDF(0, 1, DEVFN), 0, 4), 0xffffffff);
    assert_int_equal(pci_host_config_read(f->host, PCI_SBDF(1, 0, DEVFN), 0, 4), 0xffffffff);
    pci_host_config_write(f->host, PCI_SBDF(0, 0, 0), PCI_COMMAND, 2, 0xffff);  /* ignored */
}

static void read_only_bits_ignore_writes(void **state)
{
    Fixture *f = *state;
    cfg_wr(f, PCI_VENDOR_ID, 4, 0);
    cfg_wr(f, PCI_CLASS_REVISION, 4, 0);
    cfg_wr(f, PCI_STATUS, 2, 0xffff);
    cfg_wr(f, PCI_HEADER_TYPE, 1, 0xff);
    cfg_wr(f, PCI_INTERRUPT_PIN, 1, 4);
    cfg_wr(f, PCI_ROM_ADDRESS, 4, 0xffffffff);
    assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 4), 0x12348086);
    assert_int_equal(cfg_rd(f, PCI_CLASS_REVISION, 4), 0x02000003);
    assert_int_equal(cfg_rd(f, PCI_STATUS, 2), 0);
    assert_int_equal(cfg_rd(f, PCI_HEADER_TYPE, 1), 0);
    assert_int_equal(cfg_rd(f, PCI_INTERRUPT_PIN, 1), 1);
    assert_int_equal(cfg_rd(f, PCI_ROM_ADDRESS, 4), 0);
    cfg_wr(f, PCI_INTERRUPT_LINE, 1, 11);
    cfg_wr(f, PCI_CACHE_LINE_SIZE, 2, 0x4010);
    assert_int_equal(cfg_rd(f, PCI_INTERRUPT_LINE, 1), 11);
    assert_int_equal(cfg_rd(f, PCI_CACHE_LINE_SIZE, 2), 0x4010);
    cfg_wr(f, PCI_COMMAND, 2, 0xffff);
    assert_int_equal(cfg_rd(f, PCI_COMMAND, 2),
                     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                     PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
}

/* ---- BARs ---- */

static void bar_sizing_reports_size_and_type(void **state)
{
    Fixture *f = *state;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        cfg_wr(f, PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xffffffff);
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_0, 4), 0xfffff000);
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_1, 4), 0xffffffe1);
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_2, 4), 0xfff0000c);
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_3, 4), 0xffffffff);
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_4, 4), 0);     /* unimplemented */
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_5, 4), 0);
    cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xfebf1234);               /* low bits drop */
    assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_0, 4), 0xfebf1000);
}

static void command_decode_bits_enable_and_disable_regions(void **state)
{
    Fixture *f = *state;
    cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xfebf0000);
    cfg_wr(f, PCI_BASE_ADDRESS_1, 4, 0xc000);
    cfg_wr(f, PCI_BASE_ADDRESS_2, 4, 0xe0000000);
    cfg_wr(f, PCI_BASE_ADDRESS_3, 4, 0);
    assert_null(mem_at(f, 0xfebf0000));                         /* decode still off */
    assert_null(io_at(f, 0xc000));
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_ptr_equal(mem_at(f, 0xfebf0000), &f->bar0);
    assert_ptr_equal(mem_at(f, 0xfebf0fff), &f->bar0);
    assert_ptr_equal(mem_at(f, 0xe00fffff), &f->bar2);
    assert_null(io_at(f, 0xc000));                              /* IO decode still off */
    assert_int_equal(f->dev.bars[0].addr, 0xfebf0000);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    assert_ptr_equal(io_at(f, 0xc01f), &f->bar1);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_null(mem_at(f, 0xfebf0000));
    assert_null(mem_at(f, 0xe0000000));
    assert_false(f->bar0.enabled);
    assert_ptr_equal(f->bar0.container, &f->mem_root);          /* kept, disabled */
    assert_int_equal(f->dev.bars[0].addr, PCI_BAR_UNMAPPED);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    assert_ptr_equal(mem_at(f, 0xfebf0800), &f->bar0);
    cfg_wr(f, PCI_COMMAND, 2, 0);
    assert_null(io_at(f, 0xc000));
}

static void bar_move_is_one_unmap_and_one_map(void **state)
{
    Fixture *f = *state;
    cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xfebf0000);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_ptr_equal(mem_at(f, 0xfebf0000), &f->bar0);
    reset_counts(f);
    cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xfeb00000);
    assert_int_equal(f->counts.dels, 1);
    assert_int_equal(f->counts.adds, 1);
    assert_int_equal(f->counts.commits, 1);
    assert_null(mem_at(f, 0xfebf0000));
    assert_ptr_equal(mem_at(f, 0xfeb00000), &f->bar0);
    assert_int_equal(f->bar0.addr, 0xfeb00000);
    reset_counts(f);
    cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xfeb00000);                /* same place: no change */
    assert_int_equal(f->counts.dels + f->counts.adds, 0);
    reset_counts(f);
    cfg_wr(f, PCI_COMMAND, 2, 0);                               /* decode off: one unmap */
    assert_int_equal(f->counts.dels, 1);
    assert_int_equal(f->counts.adds, 0);
}

static void sizing_pattern_is_not_mapped(void **state)
{
    Fixture *f = *state;
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    cfg_wr(f, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
    cfg_wr(f, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
    cfg_wr(f, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(f->dev.bars[i].addr, PCI_BAR_UNMAPPED);
    assert_null(mem_at(f, 0xfffff000));
    assert_null(io_at(f, 0xffe0));
}

static void bar_address_limits(void **state)
{
    Fixture *f = *state;
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    cfg_wr(f, PCI_BASE_ADDRESS_1, 4, 0x10000);                  /* beyond the port space */
    assert_int_equal(f->dev.bars[1].addr, PCI_BAR_UNMAPPED);
    cfg_wr(f, PCI_BASE_ADDRESS_1, 4, 0xffe0);                   /* last 32 ports: fine */
    assert_ptr_equal(io_at(f, 0xffff), &f->bar1);
    cfg_wr(f, PCI_BASE_ADDRESS_2, 4, 0);                        /* 64-bit BAR above 4 GiB */
    cfg_wr(f, PCI_BASE_ADDRESS_3, 4, 0x8);
    assert_ptr_equal(mem_at(f, 0x800000000ull), &f->bar2);
    cfg_wr(f, PCI_BASE_ADDRESS_3, 4, 0);                        /* address 0: unmapped */
    assert_int_equal(f->dev.bars[2].addr, PCI_BAR_UNMAPPED);
}

/* What a BAR should decode, computed from the spec for the values the test writes. */
static uint64_t expected_bar_addr(Fixture *f, unsigned bar)
{
    uint16_t cmd = (uint16_t)cfg_rd(f, PCI_COMMAND, 2);
    uint64_t lo = cfg_rd(f, PCI_BASE_ADDRESS_0 + 4 * bar, 4);
    switch (bar) {
    case 0:
        lo &= ~0xfull;
        return (cmd & PCI_COMMAND_MEMORY) && lo && lo != 0xfffff000 ? lo : PCI_BAR_UNMAPPED;
    case 1:
        lo &= ~0x3ull;
        return (cmd & PCI_COMMAND_IO) && lo && lo + 0x1f <= 0xffff ? lo : PCI_BAR_UNMAPPED;
    default: {
        uint64_t a = (lo & ~0xfull) | (uint64_t)cfg_rd(f, PCI_BASE_ADDRESS_3, 4) << 32;
        return (cmd & PCI_COMMAND_MEMORY) && a && a != 0xfffffffffff00000ull
               ? a : PCI_BAR_UNMAPPED;
    }
    }
}

static uint32_t random_bar_value(uint64_t *seed, unsigned reg)
{
    switch (test_rand_below(seed, 4)) {
    case 0:  return 0;
    case 1:  return 0xffffffff;
    default:
        switch (reg) {
        case PCI_BASE_ADDRESS_0: return 0xe0000000u + (uint32_t)test_rand_below(seed, 256) * 0x1000;
        case PCI_BASE_ADDRESS_1: return 0xc000u + (uint32_t)test_rand_below(seed, 0x400) * 0x20;
        case PCI_BASE_ADDRESS_2: return 0xf0000000u + (uint32_t)test_rand_below(seed, 64) * 0x100000;
        default:                 return (uint32_t)test_rand_below(seed, 3);
        }
    }
}

static void random_programming_keeps_mappings_consistent(void **state)
{
    Fixture *f = *state;
    MemoryRegion *mr[3] = { &f->bar0, &f->bar1, &f->bar2 };
    uint64_t prev[3] = { PCI_BAR_UNMAPPED, PCI_BAR_UNMAPPED, PCI_BAR_UNMAPPED };
    uint64_t seed = test_seed("pci bar programming");
    for (int i = 0; i < 3000; i++) {
        unsigned pick = (unsigned)test_rand_below(&seed, 5);
        if (pick == 4)
            cfg_wr(f, PCI_COMMAND, 2, (uint32_t)test_rand_below(&seed, 4));
        else
            cfg_wr(f, PCI_BASE_ADDRESS_0 + 4 * pick, 4,
                   random_bar_value(&seed, PCI_BASE_ADDRESS_0 + 4 * pick));
        for (unsigned b = 0; b < 3; b++) {
            uint64_t want = expected_bar_addr(f, b);
            assert_int_equal(f->dev.bars[b].addr, want);
            MemoryRegion *(*at)(Fixture *, hwaddr) = b == 1 ? io_at : mem_at;
            if (want != PCI_BAR_UNMAPPED)
                assert_ptr_equal(at(f, want), mr[b]);
            if (prev[b] != PCI_BAR_UNMAPPED && prev[b] != want)
                assert_ptr_not_equal(at(f, prev[b]), mr[b]);
            prev[b] = want;
        }
    }
}

static void init_bar_refuses_bad_bars(void **state)
{
    Fixture *f = *state;
    PciDevice d;
    MemoryRegion odd, tiny, ok;
    Error *err = NULL;
    memory_region_init_io(&odd, NULL, &dummy_ops, NULL, "odd", 0x3000);
    memory_region_init_io(&tiny, NULL, &dummy_ops, NULL, "tiny", 8);
    memory_region_init_io(&ok, NULL, &dummy_ops, NULL, "ok", 0x1000);
    pci_device_init(&d, "bad", 1, 2, 0, 0, 0);
    assert_int_equal(pci_device_init_bar(&d, 0, PCI_BAR_MEM32, &odd, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "power of two"));
    error_free(err);
    assert_int_equal(pci_device_init_bar(&d, 0, PCI_BAR_MEM32, &tiny, NULL), -EINVAL);
    assert_int_equal(pci_device_init_bar(&d, 0, PCI_BAR_IO, &ok, NULL), -EINVAL); /* > 256 */
    assert_int_equal(pci_device_init_bar(&d, 5, PCI_BAR_MEM64, &ok, NULL), -EINVAL);
    assert_int_equal(pci_device_init_bar(&d, 6, PCI_BAR_MEM32, &ok, NULL), -EINVAL);
    assert_int_equal(pci_device_init_bar(&d, 0, (enum pci_bar_type)0x2, &ok, NULL), -EINVAL);
    assert_int_equal(pci_device_init_bar(&d, 0, PCI_BAR_MEM64, &ok, NULL), 0);
    assert_int_equal(pci_device_init_bar(&d, 1, PCI_BAR_MEM32, &tiny, NULL), -EINVAL);
    assert_int_equal(pci_device_init_bar(&d, 1, PCI_BAR_IO, &tiny, NULL), -EINVAL); /* taken */
    memory_region_finalize(&odd);
    memory_region_finalize(&tiny);
    memory_region_finalize(&ok);
    (void)f;
}

/* ---- INTx ---- */

static void intx_follows_device_and_disable_bit(void **state)
{
    Fixture *f = *state;
    pci_device_set_intx(&f->dev, true);
    assert_true(f->irqs.intx.level);
    assert_int_equal(f->irqs.intx.sbdf, f->sbdf);
    assert_int_equal(f->irqs.intx.pin, 0);                      /* INTA */
    assert_int_equal(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
    assert_false(f->irqs.intx.level);
    assert_int_equal(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    cfg_wr(f, PCI_COMMAND, 2, 0);
    assert_true(f->irqs.intx.level);
    pci_device_set_intx(&f->dev, false);
    assert_false(f->irqs.intx.level);
    assert_int_equal(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
    unsigned changes = f->irqs.changes;
    pci_device_set_intx(&f->dev, false);
    assert_int_equal(f->irqs.changes, changes);
}

/* ---- capabilities, config_written, MSI ---- */

static void capabilities_form_a_list(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    assert_int_equal(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
    assert_int_equal(pci_device_add_capability(&f->dev, PCI_CAP_ID_VNDR, 0x40, 8, NULL), 0);
    assert_int_equal(pci_device_add_capability(&f->dev, PCI_CAP_ID_MSIX, 0x80, 12, NULL), 0);
    assert_int_equal(pci_device_add_capability(&f->dev, PCI_CAP_ID_PM, 0xf8, 8, NULL), 0);
    assert_int_equal(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
    assert_int_equal(cfg_rd(f, PCI_CAPABILITY_LIST, 1), 0x40);
    assert_int_equal(cfg_rd(f, 0x40, 2), 0x8000 | PCI_CAP_ID_VNDR);   /* id, next */
    assert_int_equal(cfg_rd(f, 0x80, 2), 0xf800 | PCI_CAP_ID_MSIX);
    assert_int_equal(cfg_rd(f, 0xf8, 2), PCI_CAP_ID_PM);              /* the last */
    cfg_wr(f, 0x40, 4, 0);                                      /* the guest cannot relink */
    assert_int_equal(cfg_rd(f, 0x41, 1), 0x80);
    Error *err = NULL;
    static const unsigned bad[][2] = { { 0x3c, 4 }, { 0x42, 4 }, { 0x90, 1 }, { 0xfc, 8 },
                                       { 0x80, 4 }, { 0x100, 4 } };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(pci_device_add_capability(&f->dev, 0x09, bad[i][0], bad[i][1], &err),
                         -EINVAL);
        assert_non_null(err);
        error_free(err);
        err = NULL;
    }
    assert_int_equal(cfg_rd(f, 0xf9, 1), 0);                    /* the list is unchanged */
    log_set_level(LOG_WARN);
}

static void note_config_write(PciDevice *dev, uint32_t reg, unsigned size)
{
    Fixture *f = container_of(dev, Fixture, dev);
    f->written.reg = reg;
    f->written.size = size;
    f->written.calls++;
    f->written.command = dev->config[PCI_COMMAND];
}

/* After the header is updated, the device hears of every accepted write, even one
 * that changed nothing; refused accesses do not reach it. */
static void config_written_follows_guest_writes(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    f->dev.config_written = note_config_write;
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(f->written.calls, 1);
    assert_int_equal(f->written.reg, PCI_COMMAND);
    assert_int_equal(f->written.size, 2);
    assert_int_equal(f->written.command, PCI_COMMAND_MEMORY);  /* already applied */
    cfg_wr(f, PCI_COMMAND, 2, 0);
    cfg_wr(f, PCI_VENDOR_ID + 1, 1, 0);                         /* read-only */
    assert_int_equal(f->written.calls, 3);
    assert_int_equal(f->written.reg, PCI_VENDOR_ID + 1);
    assert_int_equal(f->written.size, 1);
    cfg_wr(f, PCI_COMMAND, 3, 0);
    cfg_wr(f, 0xfe, 4, 0);
    pci_host_config_write(f->host, PCI_SBDF(0, 0, PCI_DEVFN(4, 0)), PCI_COMMAND, 2, 0);
    assert_int_equal(f->written.calls, 3);
    log_set_level(LOG_WARN);
}

static void send_msi_needs_a_bus_master_and_a_router(void **state)
{
    Fixture *f = *state;
    assert_int_equal(pci_device_send_msi(&f->dev, 0xfee00000, 0x41), -EACCES);
    assert_int_equal(f->irqs.msis, 0);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    assert_int_equal(pci_device_send_msi(&f->dev, 0x1fee01000ull, 0x4142), 0);
    assert_int_equal(f->irqs.msis, 1);
    assert_int_equal(test_irqs_msi(&f->irqs, 0).addr, 0x1fee01000ull);
    assert_int_equal(test_irqs_msi(&f->irqs, 0).data, 0x4142);
    f->irqs.fail_with = -EIO;
    assert_int_equal(pci_device_send_msi(&f->dev, 0xfee00000, 0x41), -EIO);
    f->irqs.fail_with = 0;
    f->irqs.router.inject_msi = NULL;
    assert_int_equal(pci_device_send_msi(&f->dev, 0xfee00000, 0x41), -ENOTSUP);
    pci_host_unregister_device(f->host, &f->dev);
    assert_int_equal(pci_device_send_msi(&f->dev, 0xfee00000, 0x41), -ENODEV);
    assert_int_equal(f->irqs.msis, 1);
}

/* ---- registration ---- */

static void hooks_see_devices_added_and_removed(void **state)
{
    Fixture *f = *state;
    HookLog log = { 0 };
    PciHostHooks hooks = { hook_added, hook_removed, &log };
    assert_int_equal(pci_host_set_hooks(f->host, &hooks, NULL), 0);
    assert_int_equal(log.nadded, 1);                            /* replayed */
    assert_int_equal(log.added[0], f->sbdf);
    PciDevice other;
    pci_device_init(&other, "other", 1, 2, 0, 0, 0);
    assert_int_equal(pci_host_register_device(f->host, &other, PCI_DEVFN(4, 1), NULL), 0);
    assert_int_equal(log.nadded, 2);
    assert_int_equal(log.added[1], PCI_SBDF(0, 0, PCI_DEVFN(4, 1)));
    pci_host_unregister_device(f->host, &other);
    assert_int_equal(log.nremoved, 1);
    assert_int_equal(log.removed[0], PCI_SBDF(0, 0, PCI_DEVFN(4, 1)));
    assert_null(pci_host_find_device(f->host, PCI_DEVFN(4, 1)));
    log.fail_with = -EIO;
    Error *err = NULL;
    assert_int_equal(pci_host_register_device(f->host, &other, PCI_DEVFN(4, 1), &err), -EIO);
    assert_non_null(err);
    error_free(err);
    assert_null(pci_host_find_device(f->host, PCI_DEVFN(4, 1)));
    assert_int_equal(pci_host_set_hooks(f->host, &hooks, NULL), -EIO);   /* replay fails */
    assert_int_equal(pci_host_set_hooks(f->host, NULL, NULL), 0);
}

static void function_0_announces_other_functions(void **state)
{
    Fixture *f = *state;
    PciDevice fn2;
    pci_device_init(&fn2, "fn2", 1, 2, 0, 0, 0);
    assert_int_equal(pci_host_register_device(f->host, &fn2, PCI_DEVFN(3, 2), NULL), 0);
    assert_int_equal(cfg_rd(f, PCI_HEADER_TYPE, 1), PCI_HEADER_MULTI_FUNCTION);
    assert_int_equal(pci_host_config_read(f->host, PCI_SBDF(0, 0, PCI_DEVFN(3, 2)),
                                          PCI_HEADER_TYPE, 1), 0);
    pci_host_unregister_device(f->host, &fn2);
    assert_int_equal(cfg_rd(f, PCI_HEADER_TYPE, 1), 0);
    pci_host_unregister_device(f->host, &f->dev);           /* fn 0 last: bit set on return */
    assert_int_equal(pci_host_register_device(f->host, &fn2, PCI_DEVFN(3, 2), NULL), 0);
    assert_int_equal(pci_host_register_device(f->host, &f->dev, DEVFN, NULL), 0);
    assert_int_equal(cfg_rd(f, PCI_HEADER_TYPE, 1), PCI_HEADER_MULTI_FUNCTION);
    pci_host_unregister_device(f->host, &fn2);
}

static void register_refuses_taken_slots_and_missing_router(void **state)
{
    Fixture *f = *state;
    PciDevice other;
    Error *err = NULL;
    pci_device_init(&other, "other", 1, 2, 0, 0, 2);
    assert_int_equal(pci_host_register_device(f->host, &other, DEVFN, &err), -EBUSY);
    assert_non_null(strstr(error_get_pretty(err), "slot taken"));
    error_free(err);
    assert_int_equal(pci_host_register_device(f->host, &f->dev, PCI_DEVFN(5, 0), NULL),
                     -EBUSY);                                   /* already on the bus */
    IrqRouter no_intx = { 0 };
    PciHost *h2 = pci_host_new(&f->mem_root, &f->io_root, &no_intx, 0, NULL);
    assert_int_equal(pci_host_register_device(h2, &other, 0, NULL), -EINVAL);
    pci_host_free(h2);
}

static void unregister_unmaps_bars(void **state)
{
    Fixture *f = *state;
    cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xfebf0000);
    cfg_wr(f, PCI_BASE_ADDRESS_1, 4, 0xc000);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    pci_device_set_intx(&f->dev, true);
    pci_host_unregister_device(f->host, &f->dev);
    assert_null(mem_at(f, 0xfebf0000));
    assert_null(io_at(f, 0xc000));
    assert_null(f->bar0.container);
    assert_false(f->irqs.intx.level);
    assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 2), 0xffff);
    assert_int_equal(pci_host_register_device(f->host, &f->dev, DEVFN, NULL), 0);
}

/* ---- 0xcf8 / 0xcfc ---- */

static uint32_t legacy_rd(Fixture *f, hwaddr port, unsigned size)
{
    MemoryRegion *mr = pci_host_legacy_io_region(f->host);
    return (uint32_t)mr->ops->read(mr->opaque, port - 0xcf8, size);
}

static void legacy_wr(Fixture *f, hwaddr port, unsigned size, uint32_t v)
{
    MemoryRegion *mr = pci_host_legacy_io_region(f->host);
    mr->ops->write(mr->opaque, port - 0xcf8, v, size);
}

static void legacy_cf8_cfc_mechanism(void **state)
{
    Fixture *f = *state;
    uint32_t addr = 0x80000000u | (uint32_t)DEVFN << 8;
    assert_int_equal(legacy_rd(f, 0xcfc, 4), 0xffffffff);       /* not enabled yet */
    legacy_wr(f, 0xcf8, 4, addr | 0x7f000003);                  /* reserved bits drop */
    assert_int_equal(legacy_rd(f, 0xcf8, 4), addr);
    assert_int_equal(legacy_rd(f, 0xcfc, 4), 0x12348086);
    assert_int_equal(legacy_rd(f, 0xcfe, 2), 0x1234);
    assert_int_equal(legacy_rd(f, 0xcfd, 1), 0x80);
    legacy_wr(f, 0xcf8, 4, addr | PCI_INTERRUPT_LINE);
    legacy_wr(f, 0xcfc, 1, 9);
    assert_int_equal(cfg_rd(f, PCI_INTERRUPT_LINE, 1), 9);
    legacy_wr(f, 0xcf8, 2, 0);                                  /* narrow: not the latch */
    assert_int_equal(legacy_rd(f, 0xcf8, 4), addr | PCI_INTERRUPT_LINE);
    assert_int_equal(legacy_rd(f, 0xcf9, 1), 0xff);
    legacy_wr(f, 0xcf8, 4, 0x80000000u | PCI_DEVFN(9, 0) << 8);  /* absent function */
    assert_int_equal(legacy_rd(f, 0xcfc, 4), 0xffffffff);
    legacy_wr(f, 0xcf8, 4, addr & ~0x80000000u);
    assert_int_equal(legacy_rd(f, 0xcfc, 4), 0xffffffff);
}

static void legacy_ports_through_the_io_address_space(void **state)
{
    Fixture *f = *state;
    MemTxResult r;
    assert_int_equal(memory_region_add_subregion(&f->io_root, 0xcf8,
                                                 pci_host_legacy_io_region(f->host), NULL), 0);
    address_space_stl_le(&f->as_io, 0xcf8, 0x80000000u | (uint32_t)DEVFN << 8 | PCI_COMMAND,
                         MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(r, MEMTX_OK);
    address_space_stw_le(&f->as_io, 0xcfc, PCI_COMMAND_IO, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(cfg_rd(f, PCI_COMMAND, 2), PCI_COMMAND_IO);
    address_space_stl_le(&f->as_io, 0xcf8, 0x80000000u | (uint32_t)DEVFN << 8,
                         MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(address_space_ldl_le(&f->as_io, 0xcfc, MEMTXATTRS_UNSPECIFIED, &r),
                     0x12348086);
    assert_int_equal(address_space_lduw_le(&f->as_io, 0xcfe, MEMTXATTRS_UNSPECIFIED, &r),
                     0x1234);
    /* teardown's pci_host_free takes the region out of the I/O space again */
}

/* A bus shared with another device model: reserved slots are refused, and a device must
 * name its slot (the other model's slots are not visible, so none is picked for it). */
static void shared_bus_needs_slots_and_keeps_reserved_ones(void **state)
{
    Fixture *f = *state;
    DeviceOpts opts;
    uint8_t devfn;
    Error *err = NULL;
    assert_int_equal(device_opts_parse(&opts, "dev,fn=0", NULL), 0);
    assert_int_equal(pci_host_pick_slot(f->host, &opts, "dev", &devfn, NULL), 0);
    assert_int_equal(devfn, PCI_DEVFN(4, 0));               /* 3 is the fixture's */
    pci_host_share_bus(f->host, 1u << 0 | 1u << 1);
    assert_int_equal(pci_host_pick_slot(f->host, &opts, "dev", &devfn, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "dev: slot= is required"));
    error_free(err);
    err = NULL;
    device_opts_free(&opts);

    assert_int_equal(device_opts_parse(&opts, "dev,slot=1,fn=2", NULL), 0);
    assert_int_equal(pci_host_pick_slot(f->host, &opts, "dev", &devfn, NULL), 0);
    assert_int_equal(devfn, PCI_DEVFN(1, 2));
    device_opts_free(&opts);
    PciDevice other;
    pci_device_init(&other, "other", 1, 2, 0, 0, 0);
    for (unsigned slot = 0; slot < 2; slot++) {
        assert_int_equal(pci_host_register_device(f->host, &other, PCI_DEVFN(slot, 2), &err),
                         -EBUSY);
        assert_non_null(strstr(error_get_pretty(err), "belongs to the other device model"));
        error_free(err);
        err = NULL;
        assert_null(pci_host_find_device(f->host, PCI_DEVFN(slot, 2)));
    }
    assert_int_equal(pci_host_register_device(f->host, &other, PCI_DEVFN(2, 0), NULL), 0);
    pci_host_unregister_device(f->host, &other);
}

/* ---- hostile input ---- */

static void bad_config_accesses_are_refused(void **state)
{
    Fixture *f = *state;
    assert_int_equal(cfg_rd(f, 0, 3), 0xffffffff);
    assert_int_equal(cfg_rd(f, 0, 8), 0xffffffff);
    assert_int_equal(cfg_rd(f, 0, 0), 0xffffffff);
    assert_int_equal(cfg_rd(f, 0x100, 4), 0xffffffff);
    assert_int_equal(cfg_rd(f, 0xfe, 4), 0xffffffff);
    assert_int_equal(cfg_rd(f, 0xffffffff, 1), 0xff);
    cfg_wr(f, 0xfffffffe, 4, 0);
    cfg_wr(f, PCI_COMMAND, 3, 0xffffff);
    assert_int_equal(cfg_rd(f, PCI_COMMAND, 2), 0);
    uint64_t seed = test_seed("pci config fuzz");
    for (int i = 0; i < 20000; i++) {
        uint32_t reg = (uint32_t)test_rand_below(&seed, 0x110);
        unsigned size = (unsigned)test_rand_below(&seed, 5);
        uint32_t sbdf = test_rand(&seed) & 1 ? f->sbdf : (uint32_t)test_rand(&seed);
        if (test_rand(&seed) & 1)
            pci_host_config_write(f->host, sbdf, reg, size, (uint32_t)test_rand(&seed));
        else
            (void)pci_host_config_read(f->host, sbdf, reg, size);
    }
    assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 4), 0x12348086);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(header_fields),
        T(absent_functions_read_all_ones),
        T(read_only_bits_ignore_writes),
        T(bar_sizing_reports_size_and_type),
        T(command_decode_bits_enable_and_disable_regions),
        T(bar_move_is_one_unmap_and_one_map),
        T(sizing_pattern_is_not_mapped),
        T(bar_address_limits),
        T(random_programming_keeps_mappings_consistent),
        T(init_bar_refuses_bad_bars),
        T(intx_follows_device_and_disable_bit),
        T(capabilities_form_a_list),
        T(config_written_follows_guest_writes),
        T(send_msi_needs_a_bus_master_and_a_router),
        T(hooks_see_devices_added_and_removed),
        T(function_0_announces_other_functions),
        T(register_refuses_taken_slots_and_missing_router),
        T(shared_bus_needs_slots_and_keeps_reserved_ones),
        T(unregister_unmaps_bars),
        T(legacy_cf8_cfc_mechanism),
        T(legacy_ports_through_the_io_address_space),
        T(bad_config_accesses_are_refused),
    };
    return cmocka_run_group_tests_name("pci_host", tests, NULL, NULL);
}
