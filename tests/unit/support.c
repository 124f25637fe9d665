/* tests/unit/support.c — see support.h. */
#include "tests/unit/support.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

uint64_t test_seed(const char *test_name)
{
    const char *env = getenv("XENDM_TEST_SEED");
    uint64_t seed;
    if (env && *env) {
        seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    if (seed == 0)
        seed = 1;
    printf("# %s: seed %" PRIu64 " (replay with XENDM_TEST_SEED=%" PRIu64 ")\n",
           test_name, seed, seed);
    return seed;
}

uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t test_rand_below(uint64_t *state, uint64_t n)
{
    return n ? test_rand(state) % n : 0;
}

void test_machine_init(TestMachine *m, uint64_t size)
{
    memory_region_init(&m->root, NULL, "root", size);
    assert_int_equal(address_space_init(&m->as, &m->root, "test", NULL), 0);
}

void test_machine_fini(TestMachine *m)
{
    address_space_destroy(&m->as);
    memory_region_finalize(&m->root);
}

static TestCountingListener *counting(MemoryListener *l)
{
    return (TestCountingListener *)l;
}

static void count_begin(MemoryListener *l) { counting(l)->begins++; }
static void count_commit(MemoryListener *l) { counting(l)->commits++; }
static void count_add(MemoryListener *l, MemoryRegionSection *s) { counting(l)->adds++; }
static void count_del(MemoryListener *l, MemoryRegionSection *s) { counting(l)->dels++; }
static void count_nop(MemoryListener *l, MemoryRegionSection *s) { counting(l)->nops++; }

void test_counting_listener_init(TestCountingListener *cl)
{
    *cl = (TestCountingListener){
        .l = { .begin = count_begin, .commit = count_commit, .region_add = count_add,
               .region_del = count_del, .region_nop = count_nop, .name = "counting" },
    };
}

static int fake_set_isa_irq(void *opaque, unsigned irq, bool level)
{
    TestIrqs *t = opaque;
    if (t->fail_with)
        return t->fail_with;
    assert_true(irq < ISA_NUM_IRQS);
    t->isa[irq] = level;
    t->changes++;
    return 0;
}

static int fake_set_pci_intx(void *opaque, uint32_t sbdf, unsigned pin, bool level)
{
    TestIrqs *t = opaque;
    if (t->fail_with)
        return t->fail_with;
    t->intx.sbdf = sbdf;
    t->intx.pin = pin;
    t->intx.level = level;
    t->changes++;
    return 0;
}

static int fake_inject_msi(void *opaque, uint64_t addr, uint32_t data)
{
    TestIrqs *t = opaque;
    if (t->fail_with)
        return t->fail_with;
    t->msi[t->msis++ % TEST_MSI_LOG] = (TestMsi){ .addr = addr, .data = data };
    return 0;
}

void test_irqs_init(TestIrqs *t)
{
    *t = (TestIrqs){ 0 };
    t->router = (IrqRouter){ .set_isa_irq = fake_set_isa_irq,
                             .set_pci_intx = fake_set_pci_intx,
                             .inject_msi = fake_inject_msi, .opaque = t };
}

TestMsi test_irqs_msi(const TestIrqs *t, unsigned ago)
{
    assert_true(ago < TEST_MSI_LOG && ago < t->msis);
    return t->msi[(t->msis - 1 - ago) % TEST_MSI_LOG];
}

void test_board_init(TestBoard *b, uint64_t ram_size)
{
    memory_region_init(&b->mem_root, NULL, "system", UINT64_MAX);
    memory_region_init(&b->io_root, NULL, "io", 0x10000);
    assert_int_equal(memory_region_init_ram(&b->ram, NULL, "ram", ram_size, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&b->mem_root, 0, &b->ram, NULL), 0);
    assert_int_equal(address_space_init(&b->as, &b->mem_root, "memory", NULL), 0);
    b->ram_ptr = memory_region_get_ram_ptr(&b->ram);
    assert_non_null(b->ram_ptr);
    test_irqs_init(&b->irqs);
    b->board = (DeviceBoard){ .system_memory = &b->mem_root, .system_io = &b->io_root,
                              .dma_as = &b->as, .irq = &b->irqs.router };
}

void test_board_fini(TestBoard *b)
{
    address_space_destroy(&b->as);
    memory_region_del_subregion(&b->mem_root, &b->ram, NULL);
    memory_region_finalize(&b->ram);
    memory_region_finalize(&b->mem_root);
    memory_region_finalize(&b->io_root);
}

uint64_t test_board_read(TestBoard *b, hwaddr addr, unsigned size)
{
    uint64_t v = 0;
    address_space_read(&b->as, addr, MEMTXATTRS_UNSPECIFIED, &v, size);
    return v;
}

void test_board_write(TestBoard *b, hwaddr addr, uint64_t v, unsigned size)
{
    address_space_write(&b->as, addr, MEMTXATTRS_UNSPECIFIED, &v, size);
}

/* ---- allocation failures ------------------------------------------------------------ */

/* Weak: defined by the linker only in binaries linked with --wrap (UNIT_OOM_TESTS),
 * the only ones whose allocations reach the wrappers below. */
extern void *__real_malloc(size_t size) __attribute__((weak));
extern void *__real_calloc(size_t nmemb, size_t size) __attribute__((weak));
extern void *__real_realloc(void *ptr, size_t size) __attribute__((weak));
extern void *__real_aligned_alloc(size_t align, size_t size) __attribute__((weak));
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);

static struct {
    bool armed, active, paused, fail_rest;
    unsigned long fail_at, refused;
} oom;

void test_oom_arm(unsigned long fail_at, bool fail_rest)
{
    oom.armed = oom.active = true;
    oom.fail_at = fail_at;
    oom.fail_rest = fail_rest;
}

void test_oom_disarm(void)
{
    oom.armed = oom.active = false;
}

bool test_oom_active(void)
{
    return oom.active;
}

bool test_oom_pause(bool pause)
{
    bool was = oom.paused;
    oom.paused = pause;
    return was;
}

unsigned long test_oom_refused(void)
{
    return oom.refused;
}

static bool oom_refuse(void)
{
    if (!oom.armed || oom.paused)
        return false;
    if (oom.fail_at > 0) {
        oom.fail_at--;
        return false;
    }
    oom.armed = oom.fail_rest;
    oom.refused++;
    return true;
}

void *__wrap_malloc(size_t size)
{
    return oom_refuse() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
    return oom_refuse() ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    return oom_refuse() ? NULL : __real_realloc(ptr, size);
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
    return oom_refuse() ? NULL : __real_aligned_alloc(align, size);
}
