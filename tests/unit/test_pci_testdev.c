/* Unit tests for devices/pci_testdev.c: registers, the MMIO buffer, DMA in both
 * directions into RAM through an address space (with the dirty log), the completion
 * interrupt, refused DMA, hostile accesses, and creation through the registry. */
#include "tests/unit/support.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "devices/pci.h"
#include "devices/pci_testdev.h"
#include "util/macros.h"

#define BAR_ADDR   0xfe000000ull
#define RAM_SIZE   0x100000ull
#define ROM_ADDR   0x200000ull
#define HOLE_ADDR  0x300000ull
#define MMIO_ADDR  0x400000ull
#define DEVFN      PCI_DEVFN(4, 0)

enum { ID = 0x00, SCRATCH = 0x04, STATUS = 0x08, SRC = 0x10, DST = 0x18, COUNT = 0x20,
       CMD = 0x28, IRQ_STATUS = 0x30, IRQ_RAISE = 0x34 };
enum { CMD_START = 1, CMD_TO_GUEST = 2, CMD_IRQ = 4 };

static uint64_t other_read(void *opaque, hwaddr addr, unsigned size) { return 0x77; }
static void other_write(void *opaque, hwaddr addr, uint64_t data, unsigned size) { }
static const MemoryRegionOps other_ops = { .read = other_read, .write = other_write };

typedef struct Fixture {
    TestBoard b;                    /* RAM at 0 and the memory address space */
    MemoryRegion rom, other;
    PciHost *host;
    PciTestDev *td;
    MemoryRegion *bar;
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    test_board_init(&f->b, RAM_SIZE);
    assert_int_equal(memory_region_init_rom(&f->rom, NULL, "rom", 0x1000, NULL), 0);
    memory_region_init_io(&f->other, NULL, &other_ops, NULL, "other", 0x1000);
    assert_int_equal(memory_region_add_subregion(&f->b.mem_root, ROM_ADDR, &f->rom, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&f->b.mem_root, MMIO_ADDR, &f->other, NULL),
                     0);
    f->host = pci_host_new(&f->b.mem_root, &f->b.io_root, &f->b.irqs.router, 0, NULL);
    f->td = pci_testdev_new(&f->b.as, NULL);
    assert_non_null(f->td);
    f->bar = pci_testdev_bar0(f->td);
    assert_int_equal(pci_host_register_device(f->host, pci_testdev_pci(f->td), DEVFN, NULL), 0);
    uint32_t sbdf = PCI_SBDF(0, 0, DEVFN);
    pci_host_config_write(f->host, sbdf, PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR_ADDR);
    pci_host_config_write(f->host, sbdf, PCI_COMMAND, 2,
                          PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    pci_testdev_free(f->td);
    for (unsigned devfn = 0; devfn < 256; devfn++) {    /* left by a failed test */
        PciDevice *left = pci_host_find_device(f->host, (uint8_t)devfn);
        if (left)
            pci_host_unregister_device(f->host, left);
    }
    pci_host_free(f->host);
    memory_region_del_subregion(&f->b.mem_root, &f->rom, NULL);
    memory_region_del_subregion(&f->b.mem_root, &f->other, NULL);
    memory_region_finalize(&f->rom);
    memory_region_finalize(&f->other);
    test_board_fini(&f->b);
    free(f);
    return 0;
}

/* Direct calls into the device's ops. */
static uint64_t op_rd(Fixture *f, hwaddr off, unsigned size)
{
    return f->bar->ops->read(f->bar->opaque, off, size);
}

static void op_wr(Fixture *f, hwaddr off, unsigned size, uint64_t v)
{
    f->bar->ops->write(f->bar->opaque, off, v, size);
}

/* Guest accesses through the address space, as the ioreq loop makes them. */
static uint32_t mmio_rd(Fixture *f, hwaddr reg)
{
    MemTxResult r;
    uint32_t v = address_space_ldl_le(&f->b.as, BAR_ADDR + reg, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(r, MEMTX_OK);
    return v;
}

static void mmio_wr(Fixture *f, hwaddr reg, uint32_t v)
{
    MemTxResult r;
    address_space_stl_le(&f->b.as, BAR_ADDR + reg, v, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(r, MEMTX_OK);
}

static void mmio_wr64(Fixture *f, hwaddr reg, uint64_t v)
{
    MemTxResult r;
    address_space_stq_le(&f->b.as, BAR_ADDR + reg, v, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(r, MEMTX_OK);
}

static void dma(Fixture *f, uint64_t src, uint64_t dst, uint64_t count, uint32_t cmd)
{
    mmio_wr64(f, SRC, src);
    mmio_wr64(f, DST, dst);
    mmio_wr64(f, COUNT, count);
    mmio_wr(f, CMD, cmd | CMD_START);
}

/* ---- registers ---- */

static void id_and_scratch(void **state)
{
    Fixture *f = *state;
    assert_int_equal(op_rd(f, ID, 4), PCI_TESTDEV_ID);
    op_wr(f, ID, 4, 0);
    assert_int_equal(op_rd(f, ID, 4), PCI_TESTDEV_ID);
    op_wr(f, SCRATCH, 4, 0xdeadbeef);
    assert_int_equal(op_rd(f, SCRATCH, 4), 0xdeadbeef);
    assert_int_equal(op_rd(f, ID, 8), 0xdeadbeef00000000ull | PCI_TESTDEV_ID);
    assert_int_equal(op_rd(f, STATUS, 4), 0);
    assert_int_equal(op_rd(f, 0x38, 4), 0);                 /* reserved */
    assert_int_equal(op_rd(f, 0xffc, 4), 0);
}

static void id_and_scratch_through_the_address_space(void **state)
{
    Fixture *f = *state;
    assert_int_equal(mmio_rd(f, ID), PCI_TESTDEV_ID);
    mmio_wr(f, SCRATCH, 0x12345678);
    assert_int_equal(mmio_rd(f, SCRATCH), 0x12345678);
    MemTxResult r;
    (void)address_space_lduw_le(&f->b.as, BAR_ADDR + SCRATCH, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_not_equal(r, MEMTX_OK);                      /* 2-byte register access */
}

static void dma_registers_read_back_in_halves(void **state)
{
    Fixture *f = *state;
    op_wr(f, SRC, 8, 0x1122334455667788ull);
    assert_int_equal(op_rd(f, SRC, 4), 0x55667788);
    assert_int_equal(op_rd(f, SRC + 4, 4), 0x11223344);
    op_wr(f, DST + 4, 4, 0xaabbccdd);
    op_wr(f, DST, 4, 0x01020304);
    assert_int_equal(op_rd(f, DST, 8), 0xaabbccdd01020304ull);
    op_wr(f, COUNT, 4, 16);
    assert_int_equal(op_rd(f, COUNT, 8), 16);
    op_wr(f, CMD, 4, CMD_TO_GUEST | CMD_IRQ | 0xf0);        /* no START: nothing runs */
    assert_int_equal(op_rd(f, CMD, 4), CMD_TO_GUEST | CMD_IRQ);
    assert_int_equal(op_rd(f, STATUS, 4), 0);
}

static void refused_and_odd_accesses(void **state)
{
    Fixture *f = *state;
    op_wr(f, SCRATCH, 4, 7);
    assert_int_equal(op_rd(f, SCRATCH, 2), 0xffff);
    assert_int_equal(op_rd(f, SCRATCH, 1), 0xff);
    assert_int_equal(op_rd(f, 0x06, 4), 0xffffffff);       /* misaligned */
    assert_int_equal(op_rd(f, 0x2000, 4), 0xffffffff);     /* beyond the BAR */
    assert_int_equal(op_rd(f, 0x1ffc, 8), UINT64_MAX);
    assert_int_equal(op_rd(f, 0, 3), UINT64_MAX);
    op_wr(f, ID, 8, 0);                                     /* 8-byte write: 64-bit regs only */
    op_wr(f, SCRATCH, 2, 0);
    op_wr(f, UINT64_MAX - 3, 4, 0);
    assert_int_equal(op_rd(f, SCRATCH, 4), 7);
    uint64_t seed = test_seed("testdev hostile accesses");
    for (int i = 0; i < 20000; i++) {
        hwaddr off = test_rand_below(&seed, 0x2100);
        unsigned size = (unsigned)test_rand_below(&seed, 9);
        if (test_rand(&seed) & 1)
            op_wr(f, off, size, test_rand(&seed));
        else
            (void)op_rd(f, off, size);
    }
    assert_int_equal(op_rd(f, ID, 4), PCI_TESTDEV_ID);
}

static void buffer_is_readable_and_writable_by_mmio(void **state)
{
    Fixture *f = *state;
    op_wr(f, PCI_TESTDEV_BUF_OFF, 8, 0x0807060504030201ull);
    assert_int_equal(op_rd(f, PCI_TESTDEV_BUF_OFF, 1), 0x01);
    assert_int_equal(op_rd(f, PCI_TESTDEV_BUF_OFF + 2, 2), 0x0403);
    assert_int_equal(op_rd(f, PCI_TESTDEV_BUF_OFF + 4, 4), 0x08070605);
    op_wr(f, 0x1fff, 1, 0xab);
    assert_int_equal(op_rd(f, 0x1ffe, 2), 0xab00);
    op_wr(f, 0x1ff8, 8, 0);
    assert_int_equal(op_rd(f, 0x1fff, 1), 0);
    assert_int_equal(op_rd(f, 0x1001, 2), 0xffff);         /* misaligned */
}

/* ---- DMA ---- */

static void dma_guest_to_buffer(void **state)
{
    Fixture *f = *state;
    for (int i = 0; i < 256; i++)
        f->b.ram_ptr[0x1000 + i] = (uint8_t)(i ^ 0x5a);
    dma(f, 0x1000, 0x10, 256, 0);
    assert_int_equal(mmio_rd(f, STATUS), 1);                /* done, no error */
    for (int i = 0; i < 256; i++)
        assert_int_equal(op_rd(f, PCI_TESTDEV_BUF_OFF + 0x10 + i, 1), (uint8_t)(i ^ 0x5a));
    assert_false(f->b.irqs.intx.level);                       /* no IRQ requested */
    dma(f, 0, 0, PCI_TESTDEV_BUF_SIZE, 0);                  /* the whole buffer */
    assert_int_equal(mmio_rd(f, STATUS), 1);
}

static void dma_buffer_to_guest_marks_dirty(void **state)
{
    Fixture *f = *state;
    memory_region_set_log(&f->b.ram, true, DIRTY_MEMORY_VGA);
    ram_addr_t base = memory_region_get_ram_addr(&f->b.ram);
    cpu_physical_memory_test_and_clear_dirty(base, RAM_SIZE, DIRTY_MEMORY_VGA);
    for (unsigned i = 0; i < 0x200; i += 8)
        op_wr(f, PCI_TESTDEV_BUF_OFF + 0x800 + i, 8, 0x0101010101010101ull * (i / 8));
    dma(f, 0x800, 0x8f00, 0x200, CMD_TO_GUEST);             /* crosses a page boundary */
    assert_int_equal(mmio_rd(f, STATUS), 1);
    for (unsigned i = 0; i < 0x200; i++)
        assert_int_equal(f->b.ram_ptr[0x8f00 + i], i / 8);
    assert_true(cpu_physical_memory_get_dirty(base + 0x8000, 0x1000, DIRTY_MEMORY_VGA));
    assert_true(cpu_physical_memory_get_dirty(base + 0x9000, 0x1000, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(base + 0xa000, 0x1000, DIRTY_MEMORY_VGA));
    memory_region_set_log(&f->b.ram, false, DIRTY_MEMORY_VGA);
}

static void dma_from_rom_is_allowed(void **state)
{
    Fixture *f = *state;
    dma(f, ROM_ADDR, 0, 16, 0);
    assert_int_equal(mmio_rd(f, STATUS), 1);
}

static void completion_interrupt_and_ack(void **state)
{
    Fixture *f = *state;
    dma(f, 0, 0, 64, CMD_IRQ);
    assert_int_equal(mmio_rd(f, IRQ_STATUS), 1);
    assert_true(f->b.irqs.intx.level);
    assert_int_equal(f->b.irqs.intx.sbdf, PCI_SBDF(0, 0, DEVFN));
    mmio_wr(f, IRQ_STATUS, 1);                              /* acknowledge */
    assert_int_equal(mmio_rd(f, IRQ_STATUS), 0);
    assert_false(f->b.irqs.intx.level);
    mmio_wr(f, IRQ_RAISE, 4 | 0x100);                       /* software; unknown bits drop */
    assert_int_equal(mmio_rd(f, IRQ_STATUS), 4);
    assert_true(f->b.irqs.intx.level);
    mmio_wr(f, IRQ_STATUS, 1);                              /* other bit: still raised */
    assert_true(f->b.irqs.intx.level);
    mmio_wr(f, IRQ_STATUS, 0xffffffff);
    assert_false(f->b.irqs.intx.level);
}

typedef struct BadDma {
    const char *what;
    uint64_t src, dst, count;
    uint32_t cmd;
    unsigned code;
} BadDma;

static void refused_dma_sets_error_and_touches_nothing(void **state)
{
    Fixture *f = *state;
    static const BadDma bad[] = {
        { "count > buffer", 0, 0, PCI_TESTDEV_BUF_SIZE + 1, 0, 1 },
        { "buffer range", 0, 0xf00, 0x200, 0, 2 },
        { "huge buffer offset", 0, 1ull << 63, 16, 0, 2 },
        { "huge buffer offset to guest", UINT64_MAX, 0x1000, 16, CMD_TO_GUEST, 2 },
        { "guest wrap", UINT64_MAX - 0x7f, 0, 0x100, 0, 3 },
        { "guest wrap to guest", 0, UINT64_MAX - 0xf, 0x20, CMD_TO_GUEST, 3 },
        { "hole", HOLE_ADDR, 0, 16, 0, 4 },
        { "into hole", 0, HOLE_ADDR, 16, CMD_TO_GUEST, 4 },
        { "straddles RAM end", 0, RAM_SIZE - 0x80, 0x100, CMD_TO_GUEST, 4 },
        { "into ROM", 0, ROM_ADDR, 16, CMD_TO_GUEST, 4 },
        { "into other MMIO", 0, MMIO_ADDR, 16, CMD_TO_GUEST, 4 },
        { "into own BAR", 0, BAR_ADDR + 0x1000, 16, CMD_TO_GUEST, 4 },
        { "from own BAR", BAR_ADDR, 0, 16, 0, 4 },
    };
    memset(f->b.ram_ptr + RAM_SIZE - 0x80, 0xcc, 0x80);
    op_wr(f, PCI_TESTDEV_BUF_OFF, 8, 0x1111111111111111ull);
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        print_message("# %s\n", bad[i].what);
        dma(f, bad[i].src, bad[i].dst, bad[i].count, bad[i].cmd | CMD_IRQ);
        assert_int_equal(mmio_rd(f, STATUS), 2u | bad[i].code << 8);
        assert_int_equal(mmio_rd(f, IRQ_STATUS), 2);
        assert_true(f->b.irqs.intx.level);
        mmio_wr(f, IRQ_STATUS, 2);
        assert_false(f->b.irqs.intx.level);
    }
    for (unsigned i = 0; i < 0x80; i++)
        assert_int_equal(f->b.ram_ptr[RAM_SIZE - 0x80 + i], 0xcc);
    assert_int_equal(op_rd(f, PCI_TESTDEV_BUF_OFF, 8), 0x1111111111111111ull);
    assert_int_equal(op_rd(f, SCRATCH, 4), 0);              /* own BAR untouched */
}

static void dma_needs_bus_mastering(void **state)
{
    Fixture *f = *state;
    pci_host_config_write(f->host, PCI_SBDF(0, 0, DEVFN), PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    f->b.ram_ptr[0] = 0x42;
    dma(f, 0, 0, 1, 0);
    assert_int_equal(mmio_rd(f, STATUS), 2u | 6u << 8);
    assert_int_not_equal(op_rd(f, PCI_TESTDEV_BUF_OFF, 1), 0x42);
}

static void zero_length_dma_succeeds(void **state)
{
    Fixture *f = *state;
    dma(f, HOLE_ADDR, 0, 0, 0);
    assert_int_equal(mmio_rd(f, STATUS), 1);
}

/* ---- RAM without a host pointer, as under Xen: through its backend ---- */

#define XRAM_ADDR  0x500000ull
#define XRAM_SIZE  0x10000ull

typedef struct FakeMapcache {
    uint8_t mem[XRAM_SIZE];
    ram_addr_t base;
    unsigned maps, releases;
    ram_addr_t broken_page;         /* offset of a page whose mapping fails */
} FakeMapcache;

/* Maps at most to the end of the page, like a mapcache bucket boundary. */
static void *fake_map(void *opaque, ram_addr_t ram_addr, hwaddr *len, bool is_write)
{
    FakeMapcache *mc = opaque;
    ram_addr_t off = ram_addr - mc->base;
    mc->maps++;
    if (off >= XRAM_SIZE || (off & ~(ram_addr_t)0xfff) == mc->broken_page)
        return NULL;
    hwaddr to_page_end = 0x1000 - (off & 0xfff);
    if (*len > to_page_end)
        *len = to_page_end;
    return mc->mem + off;
}

static void fake_release(void *opaque, void *host, hwaddr len, bool is_write)
{
    ((FakeMapcache *)opaque)->releases++;
}

static void dma_through_the_ram_backend(void **state)
{
    Fixture *f = *state;
    static FakeMapcache mc;
    MemoryRegion xram;
    memset(&mc, 0, sizeof(mc));
    mc.broken_page = 0x8000;
    /* No alloc: "populated by the hypervisor". */
    RamBackend backend = { .map = fake_map, .release = fake_release, .opaque = &mc };
    assert_int_equal(memory_region_init_ram_backed(&xram, NULL, "xen-ram", XRAM_SIZE, &backend,
                                                   NULL), 0);
    assert_null(memory_region_get_ram_ptr(&xram));
    mc.base = memory_region_get_ram_addr(&xram);
    assert_int_equal(memory_region_add_subregion(&f->b.mem_root, XRAM_ADDR, &xram, NULL), 0);

    for (unsigned i = 0; i < 0x100; i += 8)
        op_wr(f, PCI_TESTDEV_BUF_OFF + i, 8, 0x0202020202020202ull);
    dma(f, 0, XRAM_ADDR + 0xf80, 0x100, CMD_TO_GUEST);      /* spans two pages */
    assert_int_equal(mmio_rd(f, STATUS), 1);
    assert_true(mc.maps >= 2);
    assert_int_equal(mc.mem[0xf80], 2);
    assert_int_equal(mc.mem[0x107f], 2);
    mc.mem[0x3000] = 0x99;
    dma(f, XRAM_ADDR + 0x3000, 0x200, 1, 0);
    assert_int_equal(mmio_rd(f, STATUS), 1);
    assert_int_equal(op_rd(f, PCI_TESTDEV_BUF_OFF + 0x200, 1), 0x99);

    op_wr(f, PCI_TESTDEV_BUF_OFF, 8, 0x5555555555555555ull);
    dma(f, XRAM_ADDR + 0x8000, 0, 8, 0);                     /* the frame cannot be mapped */
    assert_int_equal(mmio_rd(f, STATUS), 2u | 5u << 8);
    assert_int_equal(op_rd(f, PCI_TESTDEV_BUF_OFF, 8), 0x5555555555555555ull);

    memory_region_del_subregion(&f->b.mem_root, &xram, NULL);
    memory_region_finalize(&xram);
}

/* ---- registry ---- */

static void created_by_name_on_the_board(void **state)
{
    Fixture *f = *state;
    DeviceBoard board = { .system_memory = &f->b.mem_root, .system_io = &f->b.io_root,
                          .dma_as = &f->b.as, .irq = &f->b.irqs.router, .pci = f->host };
    Device *a = device_create(&board, "pci-testdev,slot=5", NULL);
    assert_non_null(a);
    PciDevice *pa = pci_host_find_device(f->host, PCI_DEVFN(5, 0));
    assert_non_null(pa);
    assert_int_equal(pci_host_config_read(f->host, PCI_SBDF(0, 0, PCI_DEVFN(5, 0)), 0, 4),
                     PCI_TESTDEV_DEVICE_ID << 16 | PCI_TESTDEV_VENDOR_ID);
    assert_int_equal(pci_host_config_read(f->host, PCI_SBDF(0, 0, PCI_DEVFN(5, 0)),
                                          PCI_CLASS_REVISION, 4) >> 8, 0xff0000);
    Device *b = device_create(&board, "pci-testdev", NULL);  /* first free slot from 3 */
    assert_non_null(b);
    assert_non_null(pci_host_find_device(f->host, PCI_DEVFN(3, 0)));
    Error *err = NULL;
    assert_null(device_create(&board, "pci-testdev,slot=5", &err));
    assert_non_null(strstr(error_get_pretty(err), "slot taken"));
    error_free(err);
    err = NULL;
    assert_null(device_create(&board, "pci-testdev,slot=32", &err));
    assert_non_null(err);
    error_free(err);
    device_destroy(a);
    device_destroy(b);
    assert_null(pci_host_find_device(f->host, PCI_DEVFN(5, 0)));
    board.pci = NULL;
    err = NULL;
    assert_null(device_create(&board, "pci-testdev", &err));
    assert_non_null(strstr(error_get_pretty(err), "no PCI bus"));
    error_free(err);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(id_and_scratch),
        T(id_and_scratch_through_the_address_space),
        T(dma_registers_read_back_in_halves),
        T(refused_and_odd_accesses),
        T(buffer_is_readable_and_writable_by_mmio),
        T(dma_guest_to_buffer),
        T(dma_buffer_to_guest_marks_dirty),
        T(dma_from_rom_is_allowed),
        T(completion_interrupt_and_ack),
        T(refused_dma_sets_error_and_touches_nothing),
        T(dma_needs_bus_mastering),
        T(zero_length_dma_succeeds),
        T(dma_through_the_ram_backend),
        T(created_by_name_on_the_board),
    };
    return cmocka_run_group_tests_name("pci_testdev", tests, NULL, NULL);
}
