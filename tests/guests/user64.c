/*
 * tests/guests/user64.c — the helpers of 64-bit user-mode KVM guests (user64.h):
 * PCI configuration access, the parameter page, output lines, and the few libc
 * functions the compiler may call.
 */
#include "tests/guests/user64.h"

uint32_t pci_read32(unsigned dev, unsigned reg)
{
    outl(PCI_CONF_ADDR, PCI_CFG(dev, reg & 0xfc));
    return inl(PCI_CONF_DATA);
}

void pci_write32(unsigned dev, unsigned reg, uint32_t v)
{
    outl(PCI_CONF_ADDR, PCI_CFG(dev, reg & 0xfc));
    outl(PCI_CONF_DATA, v);
}

void pci_write16(unsigned dev, unsigned reg, uint16_t v)
{
    outl(PCI_CONF_ADDR, PCI_CFG(dev, reg & 0xfc));
    outw(PCI_CONF_DATA + (reg & 2), v);
}

const GuestParam *guest_params(void)
{
    return (const GuestParam *)GUEST_PARAM_ADDR;
}

bool str_eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

const GuestParam *guest_param(const char *name)
{
    for (const GuestParam *p = guest_params(); p->name[0]; p++)
        if (str_eq(p->name, name))
            return p;
    return NULL;
}

void line_str(Line *l, const char *s)
{
    while (*s && l->len < sizeof(l->text) - 1)
        l->text[l->len++] = *s++;
}

void line_u64(Line *l, uint64_t v)
{
    char digits[21];
    unsigned n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && l->len < sizeof(l->text) - 1)
        l->text[l->len++] = digits[--n];
}

void guest_print(const char *s)
{
    compiler_barrier();                 /* the string is in memory before mockxen reads it */
    outl(PRINT_PORT, (uint32_t)(uintptr_t)s);
}

void line_print(Line *l)
{
    l->text[l->len] = '\0';
    guest_print(l->text);
    l->len = 0;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) :: "memory");
    return dst;
}
