/*
 * devices/pci_msix.c — MSI-X: the capability, the vector table and the pending bits.
 *
 * A vector is deliverable while MSI-X is enabled, the function is not masked and the
 * vector's own mask bit is clear. Firing a vector that is not deliverable (but with
 * MSI-X enabled) sets its pending bit; every change that can make a vector deliverable
 * (its mask bit cleared, the function mask cleared, MSI-X enabled) sends the pending
 * ones and clears their bits. Entry fields are kept as the guest wrote them except the
 * bits the spec fixes: the address's two low bits read 0, vector control keeps only
 * the mask bit.
 */
#include "devices/pci_msix.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#define MSIX_REGION_PRIORITY 1  /* above whatever else the device decodes in the BAR */

/* The dwords of one table entry. */
enum { ENTRY_ADDR_LO, ENTRY_ADDR_HI, ENTRY_DATA, ENTRY_CTRL, ENTRY_DWORDS };

static unsigned pba_words(unsigned nr_vectors)
{
    return (nr_vectors + 63) / 64;
}

static uint32_t *table_entry(PciMsix *msix, unsigned vector)
{
    return msix->table + (size_t)vector * ENTRY_DWORDS;
}

static bool vector_deliverable(PciMsix *msix, unsigned vector)
{
    return msix->enabled && !msix->function_masked &&
           !(table_entry(msix, vector)[ENTRY_CTRL] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static bool is_pending(const PciMsix *msix, unsigned vector)
{
    return msix->pba[vector / 64] >> (vector % 64) & 1;
}

static void set_pending(PciMsix *msix, unsigned vector, bool pending)
{
    uint64_t bit = 1ull << (vector % 64);
    if (pending)
        msix->pba[vector / 64] |= bit;
    else
        msix->pba[vector / 64] &= ~bit;
}

static int send_vector(PciMsix *msix, unsigned vector)
{
    const uint32_t *e = table_entry(msix, vector);
    uint64_t addr = (uint64_t)e[ENTRY_ADDR_HI] << 32 | e[ENTRY_ADDR_LO];
    set_pending(msix, vector, false);
    int ret = pci_device_send_msi(msix->dev, addr, e[ENTRY_DATA]);
    if (ret < 0)
        log_ratelimited(&msix->rl, LOG_WARN, "%s: MSI-X vector %u (address 0x%" PRIx64
                        ", data 0x%" PRIx32 ") not sent: %s", msix->dev->name, vector, addr,
                        e[ENTRY_DATA], strerror(-ret));
    return ret;
}

static void send_if_pending(PciMsix *msix, unsigned vector)
{
    if (is_pending(msix, vector) && vector_deliverable(msix, vector))
        send_vector(msix, vector);
}

/* Enable or function mask changed so that vectors may have become deliverable. */
static void send_all_pending(PciMsix *msix)
{
    for (unsigned w = 0; w < pba_words(msix->nr_vectors); w++) {
        for (uint64_t bits = msix->pba[w]; bits; bits &= bits - 1)
            send_if_pending(msix, w * 64 + (unsigned)__builtin_ctzll(bits));
    }
}

int pci_msix_notify(PciMsix *msix, unsigned vector)
{
    if (vector >= msix->nr_vectors)
        return -EINVAL;
    if (!msix->enabled)
        return 0;
    if (!vector_deliverable(msix, vector)) {
        set_pending(msix, vector, true);
        return 0;
    }
    return send_vector(msix, vector);
}

bool pci_msix_enabled(const PciMsix *msix)
{
    return msix->enabled;
}

void pci_msix_config_written(PciMsix *msix, uint32_t reg, unsigned size)
{
    unsigned flags_at = msix->cap + PCI_MSIX_FLAGS;
    if (!msix->cap || !pci_config_write_touches(reg, size, flags_at, 2))
        return;
    const uint8_t *c = msix->dev->config;
    uint16_t flags = (uint16_t)(c[flags_at] | c[flags_at + 1] << 8);
    bool was_open = msix->enabled && !msix->function_masked;
    msix->enabled = flags & PCI_MSIX_FLAGS_ENABLE;
    msix->function_masked = flags & PCI_MSIX_FLAGS_MASKALL;
    if (!was_open && msix->enabled && !msix->function_masked)
        send_all_pending(msix);
}

/* ---- the table and the PBA in the BAR ---- */

/* Accesses arrive as aligned dwords inside the region (the ops below ask for that). */
static uint64_t table_read(void *opaque, hwaddr addr, unsigned size)
{
    PciMsix *msix = opaque;
    return msix->table[addr / 4];
}

static void table_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    PciMsix *msix = opaque;
    unsigned vector = (unsigned)(addr / PCI_MSIX_ENTRY_SIZE);
    unsigned field = (unsigned)(addr % PCI_MSIX_ENTRY_SIZE) / 4;
    uint32_t *e = table_entry(msix, vector);
    switch (field) {
    case ENTRY_ADDR_LO:
        e[field] = (uint32_t)data & ~3u;        /* a dword address: bits 1:0 read 0 */
        break;
    case ENTRY_CTRL:
        e[field] = (uint32_t)data & PCI_MSIX_ENTRY_CTRL_MASKBIT;
        send_if_pending(msix, vector);
        break;
    default:
        e[field] = (uint32_t)data;
        break;
    }
}

static uint64_t pba_read(void *opaque, hwaddr addr, unsigned size)
{
    PciMsix *msix = opaque;
    uint64_t word = msix->pba[addr / 8];
    return (uint32_t)(addr & 4 ? word >> 32 : word);
}

static void pba_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    /* Read-only: the device alone sets and clears pending bits. */
}

/* The spec allows aligned dwords and qwords only; a qword is carried out as its two
 * dwords, low first. */
static const MemoryRegionOps table_ops = {
    .read = table_read,
    .write = table_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static const MemoryRegionOps pba_ops = {
    .read = pba_read,
    .write = pba_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

/* ---- setting up ---- */

static bool fits(uint32_t offset, uint64_t len, uint64_t bar_size)
{
    return len <= bar_size && offset <= bar_size - len;
}

static int check_layout(const PciDevice *dev, const PciMsixLayout *l, Error **errp)
{
    const PciBar *b = l->bar < PCI_NUM_BARS ? &dev->bars[l->bar] : NULL;
    if (l->nr_vectors == 0 || l->nr_vectors > PCI_MSIX_MAX_VECTORS || !b || !b->mr ||
        b->type == PCI_BAR_IO || b->mr->kind != MR_KIND_CONTAINER) {
        error_setg(errp, "%s: MSI-X needs 1 to %d vectors (not %u) and a memory BAR "
                   "whose region is a container (not BAR%u)", dev->name,
                   PCI_MSIX_MAX_VECTORS, l->nr_vectors, l->bar);
        return -EINVAL;
    }
    uint64_t table_len = (uint64_t)l->nr_vectors * PCI_MSIX_ENTRY_SIZE;
    uint64_t pba_len = pba_words(l->nr_vectors) * 8ull;
    bool apart = l->table_offset + table_len <= l->pba_offset ||
                 l->pba_offset + pba_len <= l->table_offset;
    if (((l->table_offset | l->pba_offset) & 7) || !fits(l->table_offset, table_len, b->size) ||
        !fits(l->pba_offset, pba_len, b->size) || !apart) {
        error_setg(errp, "%s: MSI-X table (0x%" PRIx64 " bytes at 0x%" PRIx32 ") and PBA "
                   "(0x%" PRIx64 " bytes at 0x%" PRIx32 ") must be 8-byte aligned, apart "
                   "and inside BAR%u (0x%" PRIx64 " bytes)", dev->name, table_len,
                   l->table_offset, pba_len, l->pba_offset, l->bar, b->size);
        return -EINVAL;
    }
    return 0;
}

static void put_capability(PciMsix *msix, const PciMsixLayout *l)
{
    uint8_t *c = msix->dev->config + l->cap_offset;
    uint16_t flags = (uint16_t)(l->nr_vectors - 1);     /* Table Size is N - 1 */
    uint32_t table = l->table_offset | l->bar, pba = l->pba_offset | l->bar;
    memcpy(c + PCI_MSIX_FLAGS, &flags, 2);
    memcpy(c + PCI_MSIX_TABLE, &table, 4);
    memcpy(c + PCI_MSIX_PBA, &pba, 4);
    msix->dev->wmask[l->cap_offset + PCI_MSIX_FLAGS + 1] =
        (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;
}

int pci_msix_init(PciMsix *msix, PciDevice *dev, const PciMsixLayout *layout, Error **errp)
{
    *msix = (PciMsix){ .dev = dev, .nr_vectors = layout->nr_vectors };
    if (check_layout(dev, layout, errp) < 0)
        return -EINVAL;
    msix->table = calloc((size_t)layout->nr_vectors * ENTRY_DWORDS, sizeof(*msix->table));
    msix->pba = calloc(pba_words(layout->nr_vectors), sizeof(*msix->pba));
    if (!msix->table || !msix->pba) {
        free(msix->table);
        free(msix->pba);
        msix->table = NULL;
        error_setg_errno(errp, ENOMEM, "%s: cannot allocate %u MSI-X vectors", dev->name,
                         layout->nr_vectors);
        return -ENOMEM;
    }
    for (unsigned v = 0; v < layout->nr_vectors; v++)
        table_entry(msix, v)[ENTRY_CTRL] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
    MemoryRegion *bar = dev->bars[layout->bar].mr;
    memory_region_init_io(&msix->table_mr, bar->owner, &table_ops, msix, "msix-table",
                          (uint64_t)layout->nr_vectors * PCI_MSIX_ENTRY_SIZE);
    memory_region_init_io(&msix->pba_mr, bar->owner, &pba_ops, msix, "msix-pba",
                          pba_words(layout->nr_vectors) * 8ull);
    if (memory_region_add_subregion_overlap(bar, layout->table_offset, &msix->table_mr,
                                            MSIX_REGION_PRIORITY, errp) < 0 ||
        memory_region_add_subregion_overlap(bar, layout->pba_offset, &msix->pba_mr,
                                            MSIX_REGION_PRIORITY, errp) < 0 ||
        pci_device_add_capability(dev, PCI_CAP_ID_MSIX, layout->cap_offset,
                                  PCI_MSIX_CAP_SIZE, errp) < 0) {
        pci_msix_fini(msix);
        return -EINVAL;
    }
    put_capability(msix, layout);
    msix->cap = layout->cap_offset;
    return 0;
}

static void remove_region(MemoryRegion *mr)
{
    if (mr->container)
        memory_region_del_subregion(mr->container, mr, NULL);
}

void pci_msix_fini(PciMsix *msix)
{
    if (!msix->table)
        return;                 /* nothing was set up */
    memory_region_transaction_begin();
    remove_region(&msix->table_mr);
    remove_region(&msix->pba_mr);
    memory_region_transaction_commit();
    memory_region_finalize(&msix->table_mr);
    memory_region_finalize(&msix->pba_mr);
    free(msix->table);
    free(msix->pba);
    *msix = (PciMsix){ 0 };
}
