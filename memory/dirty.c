/*
 * memory/dirty.c — dirty memory: one bitmap per client over the ram_addr space, and the
 * migration bitmap.
 *
 * Bit p of ram_list.dirty_memory[client] is page p (ram_addr p * 4 KiB). The bitmaps
 * cover ram_list.dirty_pages pages and grow (never shrink) as blocks are added, like
 * QEMU's bitmap_zero_extend: bits up to the old last_ram_offset are kept, the rest of
 * the new span starts clean. Every bit operation is an atomic word operation: a whole
 * word in range is stored (set) or exchanged (clear) at once, a partial word is OR-ed
 * or AND-ed, so another thread may read-and-clear while a writer sets, without losing
 * bits. Growth reallocates the bitmaps and therefore runs on the model's thread only.
 *
 * Writes (set_dirty_range, ram_block_set_dirty) are also reported to the modified sink
 * of the block written, and only to it: the sinks belong to the blocks' backends, so
 * each machine hears of its own RAM. Writers run on the model's thread.
 *
 * The migration bitmap is the migration's own copy (QEMU's migration_bitmap): created
 * full when migration starts, extended with set bits when RAM is added during it.
 */
#include "memory/ram-internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define BITS_PER_WORD (8 * sizeof(unsigned long))
#define BITMAP_ALIGN 64         /* a cache line */
#define WORDS_PER_LINE (BITMAP_ALIGN / sizeof(unsigned long))
#define WORD_PAGE_BITS 6         /* log2(BITS_PER_WORD): pages per bitmap word */
#define LINE_BYTES ((uint64_t)BITMAP_ALIGN * 8 << RAM_PAGE_BITS)  /* RAM one line covers */

static struct {
    bool active;
    unsigned long *bitmap;
    uint64_t pages;             /* bits in use */
    uint64_t capacity;          /* bits allocated */
    uint64_t dirty_pages;       /* QEMU's migration_dirty_pages */
} migration;

static uint64_t words_for(uint64_t bits)
{
    return (bits + BITS_PER_WORD - 1) / BITS_PER_WORD;
}

/* Bits of word w that lie in pages [first, end). */
static unsigned long word_mask(uint64_t w, uint64_t first, uint64_t end)
{
    uint64_t lo = w * BITS_PER_WORD, hi = lo + BITS_PER_WORD;
    unsigned long m = ~0UL;
    if (first > lo)
        m &= ~0UL << (first - lo);
    if (end < hi)
        m &= ~0UL >> (hi - end);
    return m;
}

/* Page holding the last byte of a non-empty range (saturating at the top of memory). */
static uint64_t last_page_of(ram_addr_t start, ram_addr_t length)
{
    return (length - 1 > UINT64_MAX - start ? UINT64_MAX : start + length - 1)
           >> RAM_PAGE_BITS;
}

/* Pages [*first, *end) of the byte range, clipped to the bitmaps. False if empty. */
static bool page_span(ram_addr_t start, ram_addr_t length, uint64_t *first, uint64_t *end)
{
    if (length == 0 || start >> RAM_PAGE_BITS >= ram_list.dirty_pages)
        return false;
    uint64_t last = last_page_of(start, length);
    *first = start >> RAM_PAGE_BITS;
    *end = last + 1 < ram_list.dirty_pages ? last + 1 : ram_list.dirty_pages;
    return true;
}

/*
 * Pages [first, end) as words: [full_lo, full_hi) are wholly covered; w0 / w1 are
 * partly covered end words (masks m0 / m1) when part0 / part1 say so.
 */
typedef struct WordSpan {
    uint64_t full_lo, full_hi, w0, w1;
    unsigned long m0, m1;
    bool part0, part1;
} WordSpan;

static inline WordSpan word_span(uint64_t first, uint64_t end)
{
    WordSpan s = { .w0 = first / BITS_PER_WORD, .w1 = (end - 1) / BITS_PER_WORD };
    s.m0 = word_mask(s.w0, first, end);
    s.m1 = word_mask(s.w1, first, end);
    if (s.w0 == s.w1) {                 /* one word: only the first end word counts */
        s.m0 &= s.m1;
        s.part0 = s.m0 != ~0UL;
        s.full_lo = s.part0 ? s.w0 + 1 : s.w0;
        s.full_hi = s.w0 + 1;
        return s;
    }
    s.part0 = s.m0 != ~0UL;
    s.part1 = s.m1 != ~0UL;
    s.full_lo = s.part0 ? s.w0 + 1 : s.w0;
    s.full_hi = s.part1 ? s.w1 : s.w1 + 1;
    return s;
}

/*
 * Whole cache lines of bitmap words are set to all ones with one store per word or
 * wider. The words are only ever stored whole or changed by atomic read-modify-writes,
 * so a store of all ones must not tear below the word; nothing orders the words among
 * themselves.
 *
 * On x86-64 processors with AVX a line goes out as four MOVDQA stores, the width the
 * compiler's memset uses: there an aligned MOVDQA is one atomic 16-byte access (Intel
 * SDM vol. 3A, 9.1.1), which is more than the rule above asks. The asm keeps the
 * compiler from treating them as plain C accesses. Elsewhere (and on x86-64 without
 * AVX, where the SDM promises nothing for 16-byte stores) relaxed atomic word stores.
 */
static bool word_stores_only;  /* tests: take the portable path here too */

void ram_dirty_set_word_stores_for_tests(bool on)
{
    word_stores_only = on;
}

static inline bool wide_line_stores(void)
{
#if defined(__x86_64__)
    return !word_stores_only && __builtin_cpu_supports("avx");
#else
    return false;
#endif
}

/* `lines` lines from p (64-byte aligned); only when wide_line_stores(). */
static inline void store_ones_lines_wide(unsigned long *p, uint64_t lines)
{
#if defined(__x86_64__)
    __int128 ones = -1;
    for (; lines; lines--, p += WORDS_PER_LINE)
        __asm__ volatile("movdqa %1, %0\n\t"
                         "movdqa %1, 16%0\n\t"
                         "movdqa %1, 32%0\n\t"
                         "movdqa %1, 48%0"
                         : "=m"(*(unsigned long (*)[WORDS_PER_LINE])p) : "x"(ones));
#else
    abort();                    /* wide_line_stores() said no */
#endif
}

static inline void store_ones_lines(unsigned long *p, uint64_t lines)
{
    for (uint64_t w = 0; w < lines * WORDS_PER_LINE; w++)
        __atomic_store_n(&p[w], ~0UL, __ATOMIC_RELAXED);
}

/*
 * Partial words are OR-ed atomically; whole words get an atomic store of all ones,
 * with nothing to merge: a concurrent setter's bits are ones anyway, and a concurrent
 * clear either ran before (its bits are set again, correctly) or runs after and
 * collects them. So no bit is ever lost, and there is no read-modify-write to pay for.
 */
static inline void set_span(unsigned long *bm, const WordSpan *s)
{
    if (s->part0)
        __atomic_fetch_or(&bm[s->w0], s->m0, __ATOMIC_RELAXED);
    for (uint64_t w = s->full_lo; w < s->full_hi; w++)
        __atomic_store_n(&bm[w], ~0UL, __ATOMIC_RELAXED);
    if (s->part1)
        __atomic_fetch_or(&bm[s->w1], s->m1, __ATOMIC_RELAXED);
}

static void set_bits_atomic(unsigned long *bm, uint64_t first, uint64_t end)
{
    WordSpan s = word_span(first, end);
    set_span(bm, &s);
}

/* Clear the span's bits of word w; returns the bits that were set there. */
static unsigned long clear_word(unsigned long *bm, uint64_t w, unsigned long m)
{
    if (!(__atomic_load_n(&bm[w], __ATOMIC_RELAXED) & m))
        return 0;
    if (m == ~0UL)
        return __atomic_exchange_n(&bm[w], 0UL, __ATOMIC_RELAXED);
    return __atomic_fetch_and(&bm[w], ~m, __ATOMIC_RELAXED) & m;
}

static bool clear_bits_atomic(unsigned long *bm, uint64_t first, uint64_t end)
{
    unsigned long any = 0;
    for (uint64_t w = first / BITS_PER_WORD; w <= (end - 1) / BITS_PER_WORD; w++)
        any |= clear_word(bm, w, word_mask(w, first, end));
    return any != 0;
}

/* Mark the byte range dirty for the clients in mask, word by word. */
static __attribute__((noinline)) void dirty_mark_words(ram_addr_t start, ram_addr_t length,
                                                      unsigned mask)
{
    uint64_t first, end;
    if (!page_span(start, length, &first, &end))
        return;
    WordSpan span = word_span(first, end);
    for (; mask; mask &= mask - 1)
        set_span(ram_list.dirty_memory[__builtin_ctz(mask)], &span);
}

/*
 * Mark [start, start + length) dirty for the clients in mask. A range of whole bitmap
 * lines inside the bitmaps (LINE_BYTES = 2 MiB, aligned: what a large aligned write or
 * a new block gives) is only stores of ones, with none of the per-word mask or
 * clipping arithmetic: that is the case that has to run at memory speed
 * (bench/bench_ram.c, ram.dirty_gbps), so it is inlined into the callers and
 * everything else is one call away.
 */
static inline __attribute__((always_inline)) void dirty_mark(ram_addr_t start,
                                                             ram_addr_t length,
                                                             unsigned mask)
{
    uint64_t bytes = ram_list.dirty_pages << RAM_PAGE_BITS;
    if (((start | length) & (LINE_BYTES - 1)) || !length || start >= bytes ||
        length > bytes - start) {
        dirty_mark_words(start, length, mask);
        return;
    }
    uint64_t word = start >> RAM_PAGE_BITS >> WORD_PAGE_BITS, lines = length / LINE_BYTES;
    if (wide_line_stores()) {
        /* Every load before the first store: a load issued behind the stores can be
         * held up by them (same address bits below 4 KiB) however unrelated it is. */
        unsigned long *bm[DIRTY_MEMORY_NUM];
        memcpy(bm, ram_list.dirty_memory, sizeof(bm));
#pragma GCC unroll 3
        for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++) {
            if (mask & (1u << c))
                store_ones_lines_wide(bm[c] + word, lines);
        }
        return;
    }
    for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++) {
        if (mask & (1u << c))
            store_ones_lines(ram_list.dirty_memory[c] + word, lines);
    }
}

void ram_dirty_mark(ram_addr_t start, ram_addr_t length, uint8_t mask)
{
    dirty_mark(start, length, mask & DIRTY_CLIENTS_ALL);
}

/* Tell the block's modified sink of [start, start + length), a non-empty part of it. */
static inline void report_modified(const RAMBlock *block, ram_addr_t start, ram_addr_t length)
{
    if (block->backend.modified)
        block->backend.modified(block->backend.opaque, start, length);
}

/* Each block [start, start + length) overlaps hears of its own part, in address order
 * (the MRU block first: a write usually stays in the block written last). */
static void report_modified_range(ram_addr_t start, ram_addr_t length)
{
    ram_addr_t last = length - 1 > UINT64_MAX - start ? UINT64_MAX : start + length - 1;
    RAMBlock *b = qemu_get_ram_block(start);
    if (!b)
        b = ram_gaps_first_ending_after(&ram_list.gaps, start);
    for (; b && b->offset <= last; b = b->addr_next) {
        ram_addr_t lo = start > b->offset ? start : b->offset;
        ram_addr_t hi = b->offset + (b->max_length - 1);
        if (hi > last)
            hi = last;
        report_modified(b, lo, hi - lo + 1);
    }
}

void cpu_physical_memory_set_dirty_range(ram_addr_t start, ram_addr_t length, uint8_t mask)
{
    dirty_mark(start, length, mask & DIRTY_CLIENTS_ALL);
    if (length)
        report_modified_range(start, length);
}

void ram_block_set_dirty(RAMBlock *block, ram_addr_t offset, ram_addr_t length, uint8_t mask)
{
    dirty_mark(block->offset + offset, length, mask & DIRTY_CLIENTS_ALL);
    if (length)
        report_modified(block, block->offset + offset, length);
}

void cpu_physical_memory_clear_dirty_range(ram_addr_t start, ram_addr_t length)
{
    uint64_t first, end;
    if (!page_span(start, length, &first, &end))
        return;
    for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++)
        clear_bits_atomic(ram_list.dirty_memory[c], first, end);
}

bool cpu_physical_memory_get_dirty(ram_addr_t start, ram_addr_t length, unsigned client)
{
    uint64_t first, end;
    assert(client < DIRTY_MEMORY_NUM);
    if (!page_span(start, length, &first, &end))
        return false;
    const unsigned long *bm = ram_list.dirty_memory[client];
    for (uint64_t w = first / BITS_PER_WORD; w <= (end - 1) / BITS_PER_WORD; w++) {
        if (__atomic_load_n(&bm[w], __ATOMIC_RELAXED) & word_mask(w, first, end))
            return true;
    }
    return false;
}

bool cpu_physical_memory_test_and_clear_dirty(ram_addr_t start, ram_addr_t length,
                                              unsigned client)
{
    uint64_t first, end;
    assert(client < DIRTY_MEMORY_NUM);
    if (!page_span(start, length, &first, &end))
        return false;
    return clear_bits_atomic(ram_list.dirty_memory[client], first, end);
}

/* OR `bits` into dest starting at bit position pos. */
static void deposit_bits(unsigned long *dest, uint64_t pos, unsigned long bits)
{
    unsigned shift = pos % BITS_PER_WORD;
    dest[pos / BITS_PER_WORD] |= bits << shift;
    if (shift && bits >> (BITS_PER_WORD - shift))
        dest[pos / BITS_PER_WORD + 1] |= bits >> (BITS_PER_WORD - shift);
}

uint64_t cpu_physical_memory_snapshot_and_clear_dirty(ram_addr_t start, ram_addr_t length,
                                                      unsigned client, unsigned long *dest)
{
    assert(client < DIRTY_MEMORY_NUM);
    if (length == 0)
        return 0;
    uint64_t want_first = start >> RAM_PAGE_BITS;
    uint64_t want_end = last_page_of(start, length) + 1;
    memset(dest, 0, words_for(want_end - want_first) * sizeof(*dest));

    uint64_t first, end, count = 0;
    if (!page_span(start, length, &first, &end))
        return 0;
    unsigned long *bm = ram_list.dirty_memory[client];
    for (uint64_t w = first / BITS_PER_WORD; w <= (end - 1) / BITS_PER_WORD; w++) {
        unsigned long bits = clear_word(bm, w, word_mask(w, first, end));
        if (!bits)
            continue;
        uint64_t lo = w * BITS_PER_WORD;
        if (lo < first) {
            bits >>= first - lo;
            lo = first;
        }
        count += (uint64_t)__builtin_popcountl(bits);
        deposit_bits(dest, lo - want_first, bits);
    }
    return count;
}

uint64_t ram_dirty_bitmap_pages(void)
{
    return ram_list.dirty_pages;
}

/*
 * Grow *bm from old_bits to bits (the new words are left for the caller to set);
 * false (and *bm unchanged) on failure. The bitmaps start on a cache line: a 2 MiB
 * range is then one whole 64-byte line per client, and set_dirty_range's stores
 * never straddle two lines (unaligned, they run at half the speed).
 */
static bool resize_bitmap(unsigned long **bm, uint64_t old_bits, uint64_t bits)
{
    size_t bytes = (words_for(bits) * sizeof(unsigned long) + BITMAP_ALIGN - 1) &
                   ~(size_t)(BITMAP_ALIGN - 1);
    unsigned long *n = aligned_alloc(BITMAP_ALIGN, bytes);
    if (!n)
        return false;
    if (*bm)
        memcpy(n, *bm, words_for(old_bits) * sizeof(unsigned long));
    free(*bm);
    *bm = n;
    return true;
}

static int reserve_client_bitmaps(uint64_t pages, Error **errp)
{
    if (pages <= ram_list.dirty_capacity)
        return 0;
    uint64_t cap = ram_list.dirty_capacity * 2 > pages ? ram_list.dirty_capacity * 2 : pages;
    cap = words_for(cap) * BITS_PER_WORD;
    for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++) {
        if (!resize_bitmap(&ram_list.dirty_memory[c], ram_list.dirty_capacity, cap)) {
            error_setg_errno(errp, ENOMEM, "cannot grow dirty bitmap to %" PRIu64 " pages",
                             cap);
            return -ENOMEM;
        }
    }
    ram_list.dirty_capacity = cap;
    return 0;
}

static int reserve_migration_bitmap(uint64_t pages, Error **errp)
{
    if (!migration.active || pages <= migration.capacity)
        return 0;
    if (!resize_bitmap(&migration.bitmap, migration.capacity, pages)) {
        error_setg_errno(errp, ENOMEM, "cannot grow migration bitmap to %" PRIu64 " pages",
                         pages);
        return -ENOMEM;
    }
    migration.capacity = words_for(pages) * BITS_PER_WORD;
    return 0;
}

int ram_dirty_reserve(uint64_t new_pages, Error **errp)
{
    int ret = reserve_client_bitmaps(new_pages, errp);
    return ret ? ret : reserve_migration_bitmap(new_pages, errp);
}

void ram_dirty_extend(uint64_t old_pages, uint64_t new_pages)
{
    assert(old_pages <= ram_list.dirty_pages && new_pages <= ram_list.dirty_capacity);
    if (new_pages <= old_pages)
        return;
    for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++)
        clear_bits_atomic(ram_list.dirty_memory[c], old_pages, new_pages);
    if (new_pages > ram_list.dirty_pages)
        ram_list.dirty_pages = new_pages;
    if (migration.active) {
        assert(new_pages <= migration.capacity);
        set_bits_atomic(migration.bitmap, old_pages, new_pages);
        migration.dirty_pages += new_pages - old_pages;
        if (new_pages > migration.pages)
            migration.pages = new_pages;
    }
}

int ram_dirty_migration_start(Error **errp)
{
    if (migration.active) {
        error_setg(errp, "migration dirty logging is already on");
        return -EBUSY;
    }
    uint64_t pages = last_ram_offset() >> RAM_PAGE_BITS;
    unsigned long *bm = calloc(words_for(pages) ? words_for(pages) : 1, sizeof(*bm));
    if (!bm) {
        error_setg_errno(errp, ENOMEM, "cannot allocate a migration bitmap of %" PRIu64
                         " pages", pages);
        return -ENOMEM;
    }
    if (pages)
        set_bits_atomic(bm, 0, pages);
    uint64_t used = 0;
    for (RAMBlock *b = ram_list.blocks; b; b = b->next)
        used += b->used_length >> RAM_PAGE_BITS;
    migration.bitmap = bm;
    migration.pages = pages;
    migration.capacity = words_for(pages) * BITS_PER_WORD;
    migration.dirty_pages = used;
    migration.active = true;
    return 0;
}

void ram_dirty_migration_stop(void)
{
    free(migration.bitmap);
    migration.bitmap = NULL;
    migration.pages = migration.capacity = migration.dirty_pages = 0;
    migration.active = false;
}

bool ram_dirty_migration_active(void)
{
    return migration.active;
}

const unsigned long *ram_migration_bitmap(uint64_t *pages)
{
    if (pages)
        *pages = migration.pages;
    return migration.bitmap;
}

uint64_t ram_migration_dirty_pages(void)
{
    return migration.dirty_pages;
}

void ram_dirty_reset_for_tests(void)
{
    ram_dirty_migration_stop();
    for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++) {
        free(ram_list.dirty_memory[c]);
        ram_list.dirty_memory[c] = NULL;
    }
    ram_list.dirty_pages = ram_list.dirty_capacity = 0;
    word_stores_only = false;
}
