/*
 * tests/guests/user64.h — 64-bit user-mode KVM guests written in C.
 *
 * Such a guest is user64_entry.S (long mode, ring 3, IOPL 3, the first 4 GiB
 * identity-mapped as user pages), user64.c (these helpers) and one C file defining
 * guest_main(), whose return value becomes the guest's exit status (0 = every check
 * held). It runs natively under nested KVM, where ring-0 code would be emulated. It is
 * freestanding: no libc, no floating point or SSE (-mgeneral-regs-only), interrupts off.
 *
 * What mockxen gives it (tools/mockxen/kvm_guest.h): its parameters (--param
 * NAME=V[,V...]) in the page at GUEST_PARAM_ADDR, a clock (a read of TIMER_PORT, in
 * microseconds), a print port and a sleep port. Ports and MMIO are reached with the
 * accessors below; guest-physical addresses are virtual addresses (identity map).
 */
#ifndef TESTS_GUESTS_USER64_H
#define TESTS_GUESTS_USER64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/guests/guest.h"

#define PRINT_PORT         0x504    /* = MX_KVM_PRINT_PORT */
#define SLEEP_PORT         0x505    /* = MX_KVM_SLEEP_PORT */
#define GUEST_PARAM_ADDR   0x9f000  /* = MX_KVM_PARAM_ADDR */
#define GUEST_PARAM_VALUES 6        /* = MX_KVM_PARAM_VALUES */

/* One parameter as mockxen lays it out (MxKvmParam). */
typedef struct GuestParam {
    char name[32];                  /* NUL-padded; an empty name ends the list */
    uint64_t nvalues;
    uint64_t values[GUEST_PARAM_VALUES];
} GuestParam;

int guest_main(void);

/* ---- ports, MMIO, time -------------------------------------------------------------- */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
/* The compiler keeps memory accesses on their side (x86 orders the rest, but stores
 * before later loads: full_barrier). */
static inline void compiler_barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void full_barrier(void) { __asm__ volatile("mfence" ::: "memory"); }

static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

/* PCI configuration space of 00:dev.0 through 0xcf8/0xcfc. */
uint32_t pci_read32(unsigned dev, unsigned reg);
void pci_write32(unsigned dev, unsigned reg, uint32_t v);
void pci_write16(unsigned dev, unsigned reg, uint16_t v);

/* mockxen's clock in microseconds (32 bits: take differences). */
static inline uint32_t clock_us(void) { return inl(TIMER_PORT); }
static inline void sleep_us(uint32_t us) { outl(SLEEP_PORT, us); }

/* ---- parameters and output ---------------------------------------------------------- */

/* The parameter named `name`, or NULL. */
const GuestParam *guest_param(const char *name);
/* The parameters in order, for walking: each next one until an empty name. */
const GuestParam *guest_params(void);

/* An output line being built; printed (as "vcpu0: TEXT" by mockxen) with line_print. */
typedef struct Line {
    char text[200];
    unsigned len;
} Line;
void line_str(Line *l, const char *s);
void line_u64(Line *l, uint64_t v);             /* decimal */
void line_print(Line *l);                       /* prints and empties the line */
void guest_print(const char *s);

bool str_eq(const char *a, const char *b);

/* The compiler may emit calls to these. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);

#endif
