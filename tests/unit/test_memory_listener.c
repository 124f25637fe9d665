/*
 * Unit tests for MemoryListeners: replay on register and unregister, the order of
 * events within a commit (deletions first, address order, listener priority forward
 * for adds and reverse for deletions), dirty logging (log_start/log_stop, the global
 * start/stop and sync) and ioeventfd announcements.
 * (The randomized replay check lives in test_flatview_random.c.)
 */
#include "tests/unit/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory/memory-internal.h"

/* A listener that writes every call as text: "<tag>:<event> <start>-<last> <name>; ". */
typedef struct Recorder {
    MemoryListener l;
    const char *tag;
    char *log;
    size_t len;
    FILE *f;
} Recorder;

static Recorder *rec_of(MemoryListener *l)
{
    return (Recorder *)l;
}

static void rec_section(MemoryListener *l, const char *ev, MemoryRegionSection *s)
{
    fprintf(rec_of(l)->f, "%s:%s %llx-%llx %s", rec_of(l)->tag, ev,
            (unsigned long long)s->offset_within_address_space,
            (unsigned long long)((MemSize)s->offset_within_address_space + s->size - 1),
            s->mr->name);
    if (s->offset_within_region)
        fprintf(rec_of(l)->f, "@%llx", (unsigned long long)s->offset_within_region);
    fputs("; ", rec_of(l)->f);
}

static void on_begin(MemoryListener *l) { fprintf(rec_of(l)->f, "%s:begin; ", rec_of(l)->tag); }
static void on_commit(MemoryListener *l) { fprintf(rec_of(l)->f, "%s:commit; ", rec_of(l)->tag); }
static void on_add(MemoryListener *l, MemoryRegionSection *s) { rec_section(l, "add", s); }
static void on_del(MemoryListener *l, MemoryRegionSection *s) { rec_section(l, "del", s); }
static void on_nop(MemoryListener *l, MemoryRegionSection *s) { rec_section(l, "nop", s); }
static void on_sync(MemoryListener *l, MemoryRegionSection *s) { rec_section(l, "sync", s); }

static void on_log_start(MemoryListener *l, MemoryRegionSection *s, int old, int new)
{
    char ev[32];
    snprintf(ev, sizeof(ev), "log_start(%d->%d)", old, new);
    rec_section(l, ev, s);
}

static void on_log_stop(MemoryListener *l, MemoryRegionSection *s, int old, int new)
{
    char ev[32];
    snprintf(ev, sizeof(ev), "log_stop(%d->%d)", old, new);
    rec_section(l, ev, s);
}

static void on_global_start(MemoryListener *l) { fprintf(rec_of(l)->f, "%s:global_start; ", rec_of(l)->tag); }
static void on_global_stop(MemoryListener *l) { fprintf(rec_of(l)->f, "%s:global_stop; ", rec_of(l)->tag); }

static void on_eventfd(MemoryListener *l, const char *ev, MemoryRegionSection *s,
                       bool match, uint64_t data, int fd)
{
    fprintf(rec_of(l)->f, "%s:%s %llx/%llu %s fd%d%s; ", rec_of(l)->tag, ev,
            (unsigned long long)s->offset_within_address_space,
            (unsigned long long)s->size, s->mr->name, fd, match ? " match" : "");
    (void)data;
}

static void on_eventfd_add(MemoryListener *l, MemoryRegionSection *s, bool m, uint64_t d, int fd)
{
    on_eventfd(l, "efd_add", s, m, d, fd);
}

static void on_eventfd_del(MemoryListener *l, MemoryRegionSection *s, bool m, uint64_t d, int fd)
{
    on_eventfd(l, "efd_del", s, m, d, fd);
}

static void rec_init(Recorder *r, const char *tag, unsigned priority)
{
    memset(r, 0, sizeof(*r));
    r->tag = tag;
    r->f = open_memstream(&r->log, &r->len);
    assert_non_null(r->f);
    r->l = (MemoryListener){
        .begin = on_begin, .commit = on_commit, .region_add = on_add, .region_del = on_del,
        .region_nop = on_nop, .log_start = on_log_start, .log_stop = on_log_stop,
        .log_sync = on_sync, .log_global_start = on_global_start,
        .log_global_stop = on_global_stop, .eventfd_add = on_eventfd_add,
        .eventfd_del = on_eventfd_del, .priority = priority, .name = tag,
    };
}

/* What was recorded since the last call (static buffer), then forget it. */
static const char *rec_take(Recorder *r)
{
    static char out[4096];
    fflush(r->f);
    snprintf(out, sizeof(out), "%s", r->log ? r->log : "");
    fclose(r->f);
    free(r->log);
    r->log = NULL;
    r->f = open_memstream(&r->log, &r->len);
    assert_non_null(r->f);
    return out;
}

static void rec_fini(Recorder *r)
{
    fclose(r->f);
    free(r->log);
}

static void register_replays_and_unregister_removes(void **state)
{
    static TestMachine m;
    MemoryRegion a, b;
    Recorder r;
    test_machine_init(&m, UINT64_MAX);
    memory_region_init_io(&a, NULL, NULL, NULL, "a", 0x100);
    memory_region_init_io(&b, NULL, NULL, NULL, "b", 0x100);
    assert_int_equal(memory_region_add_eventfd(&b, 0x10, 4, true, 7, 42, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x2000, &b, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x1000, &a, NULL), 0);
    memory_region_set_log(&a, true, DIRTY_MEMORY_VGA);
    rec_init(&r, "L", 0);
    memory_listener_register(&r.l, &m.as);
    assert_ptr_equal(r.l.address_space, &m.as);
    assert_string_equal(rec_take(&r),
        "L:begin; L:add 1000-10ff a; L:log_start(0->1) 1000-10ff a; L:add 2000-20ff b; "
        "L:efd_add 2010/4 b fd42 match; L:commit; ");
    memory_listener_unregister(&r.l);
    assert_null(r.l.address_space);
    assert_string_equal(rec_take(&r),
        "L:begin; L:efd_del 2010/4 b fd42 match; L:log_stop(1->0) 1000-10ff a; "
        "L:del 1000-10ff a; L:del 2000-20ff b; L:commit; ");
    /* unregistering twice is harmless */
    memory_listener_unregister(&r.l);
    assert_string_equal(rec_take(&r), "");
    rec_fini(&r);
    assert_int_equal(memory_region_del_subregion(&m.root, &a, NULL), 0);
    assert_int_equal(memory_region_del_subregion(&m.root, &b, NULL), 0);
    memory_region_finalize(&a);
    memory_region_finalize(&b);
    test_machine_fini(&m);
}

static void commit_reports_deletions_first_in_address_order(void **state)
{
    static TestMachine m;
    MemoryRegion a, b, c, big;
    Recorder r;
    test_machine_init(&m, UINT64_MAX);
    memory_region_init_io(&a, NULL, NULL, NULL, "a", 0x100);
    memory_region_init_io(&b, NULL, NULL, NULL, "b", 0x100);
    memory_region_init_io(&c, NULL, NULL, NULL, "c", 0x100);
    memory_region_init_io(&big, NULL, NULL, NULL, "big", 0x10000);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x3000, &a, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x2000, &b, NULL), 0);
    rec_init(&r, "L", 0);
    memory_listener_register(&r.l, &m.as);
    rec_take(&r);

    /* a move: its old place goes, then its new one comes; b is outside the change */
    memory_region_set_address(&a, 0x1000);
    assert_string_equal(rec_take(&r), "L:begin; L:del 3000-30ff a; L:add 1000-10ff a; L:commit; ");

    /* one transaction, several edits: one begin/commit, deletions before additions */
    memory_region_transaction_begin();
    assert_int_equal(memory_region_add_subregion(&m.root, 0x5000, &c, NULL), 0);
    memory_region_set_enabled(&b, false);
    memory_region_set_address(&a, 0x4000);
    assert_string_equal(rec_take(&r), "");
    memory_region_transaction_commit();
    assert_string_equal(rec_take(&r),
        "L:begin; L:del 1000-10ff a; L:del 2000-20ff b; L:add 4000-40ff a; "
        "L:add 5000-50ff c; L:commit; ");

    /* a background under everything: unchanged ranges inside the span are nops */
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0x0, &big, -1, NULL), 0);
    assert_string_equal(rec_take(&r),
        "L:begin; L:add 0-3fff big; "
        "L:nop 4000-40ff a; L:add 4100-4fff big@4100; L:nop 5000-50ff c; "
        "L:add 5100-ffff big@5100; L:commit; ");
    memory_listener_unregister(&r.l);
    rec_fini(&r);
    MemoryRegion *subs[] = { &a, &b, &c, &big };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(memory_region_del_subregion(&m.root, subs[i], NULL), 0);
        memory_region_finalize(subs[i]);
    }
    test_machine_fini(&m);
}

static void listener_priority_orders_callbacks(void **state)
{
    static TestMachine m;
    MemoryRegion a;
    Recorder hi, lo;
    test_machine_init(&m, UINT64_MAX);
    memory_region_init_io(&a, NULL, NULL, NULL, "a", 0x10);
    rec_init(&hi, "hi", 10);
    rec_init(&lo, "lo", 1);
    /* both record into hi's stream so the interleaving is visible */
    memory_listener_register(&hi.l, &m.as);
    memory_listener_register(&lo.l, &m.as);
    rec_take(&lo);
    rec_take(&hi);
    FILE *shared = hi.f;
    FILE *lo_own = lo.f;
    lo.f = shared;
    assert_int_equal(memory_region_add_subregion(&m.root, 0, &a, NULL), 0);
    assert_string_equal(rec_take(&hi),
        "lo:begin; hi:begin; lo:add 0-f a; hi:add 0-f a; hi:commit; lo:commit; ");
    lo.f = hi.f;
    assert_int_equal(memory_region_del_subregion(&m.root, &a, NULL), 0);
    assert_string_equal(rec_take(&hi),
        "lo:begin; hi:begin; hi:del 0-f a; lo:del 0-f a; hi:commit; lo:commit; ");
    lo.f = lo_own;
    memory_listener_unregister(&lo.l);
    memory_listener_unregister(&hi.l);
    rec_fini(&lo);
    rec_fini(&hi);
    memory_region_finalize(&a);
    test_machine_fini(&m);
}

static void dirty_logging_events(void **state)
{
    static TestMachine m;
    MemoryRegion ram, io;
    static uint8_t backing[0x2000] __attribute__((aligned(4096)));
    Recorder r;
    test_machine_init(&m, UINT64_MAX);
    assert_int_equal(memory_region_init_ram_ptr(&ram, NULL, "ram", sizeof(backing), backing,
                                                NULL), 0);
    memory_region_init_io(&io, NULL, NULL, NULL, "io", 0x10);
    assert_int_equal(memory_region_add_subregion(&m.root, 0, &ram, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x10000, &io, NULL), 0);
    rec_init(&r, "L", 0);
    memory_listener_register(&r.l, &m.as);
    rec_take(&r);

    memory_region_set_log(&ram, true, DIRTY_MEMORY_VGA);
    assert_string_equal(rec_take(&r),
        "L:begin; L:nop 0-1fff ram; L:log_start(0->1) 0-1fff ram; L:commit; ");
    memory_region_set_log(&ram, true, DIRTY_MEMORY_VGA);        /* no change, no commit */
    assert_string_equal(rec_take(&r), "");

    /* global logging adds the migration bit to RAM ranges only */
    memory_global_dirty_log_start();
    assert_string_equal(rec_take(&r),
        "L:global_start; L:begin; L:nop 0-1fff ram; L:log_start(1->5) 0-1fff ram; "
        "L:nop 10000-1000f io; L:commit; ");
    memory_global_dirty_log_start();                            /* already on */
    assert_string_equal(rec_take(&r), "");
    memory_global_dirty_log_sync();
    assert_string_equal(rec_take(&r), "L:sync 0-1fff ram; ");
    memory_global_dirty_log_stop();
    assert_string_equal(rec_take(&r),
        "L:global_stop; L:begin; L:nop 0-1fff ram; L:log_stop(5->1) 0-1fff ram; "
        "L:nop 10000-1000f io; L:commit; ");
    memory_region_set_log(&ram, false, DIRTY_MEMORY_VGA);
    assert_string_equal(rec_take(&r),
        "L:begin; L:nop 0-1fff ram; L:log_stop(1->0) 0-1fff ram; L:commit; ");
    memory_global_dirty_log_sync();                             /* nothing logs now */
    assert_string_equal(rec_take(&r), "");

    memory_listener_unregister(&r.l);
    rec_fini(&r);
    assert_int_equal(memory_region_del_subregion(&m.root, &ram, NULL), 0);
    assert_int_equal(memory_region_del_subregion(&m.root, &io, NULL), 0);
    memory_region_finalize(&ram);
    memory_region_finalize(&io);
    test_machine_fini(&m);
}

static void global_log_start_reaches_late_listeners(void **state)
{
    static TestMachine m;
    Recorder r;
    test_machine_init(&m, UINT64_MAX);
    memory_global_dirty_log_start();
    rec_init(&r, "L", 0);
    memory_listener_register(&r.l, &m.as);
    assert_string_equal(rec_take(&r), "L:global_start; L:begin; L:commit; ");
    memory_global_dirty_log_stop();
    assert_string_equal(rec_take(&r), "L:global_stop; L:begin; L:commit; ");
    memory_listener_unregister(&r.l);
    rec_fini(&r);
    test_machine_fini(&m);
}

static void ioeventfds_follow_visibility(void **state)
{
    static TestMachine m;
    MemoryRegion dev, win;
    Recorder r;
    test_machine_init(&m, UINT64_MAX);
    memory_region_init_io(&dev, NULL, NULL, NULL, "dev", 0x100);
    memory_region_init_alias(&win, NULL, "win", &dev, 0x80, 0x80);
    rec_init(&r, "L", 0);
    memory_listener_register(&r.l, &m.as);
    rec_take(&r);
    assert_int_equal(memory_region_add_eventfd(&dev, 0x0, 2, false, 0, 3, NULL), 0);
    assert_int_equal(memory_region_add_eventfd(&dev, 0x90, 0, false, 0, 4, NULL), 0);
    assert_string_equal(rec_take(&r), "");          /* dev is not visible yet */
    assert_int_equal(memory_region_add_subregion(&m.root, 0x1000, &dev, NULL), 0);
    assert_string_equal(rec_take(&r), "L:begin; L:add 1000-10ff dev; "
                        "L:efd_add 1000/2 dev fd3; L:efd_add 1090/0 dev fd4; L:commit; ");
    /* the alias shows only the upper half: one more visible copy of fd4 */
    assert_int_equal(memory_region_add_subregion(&m.root, 0x8000, &win, NULL), 0);
    assert_string_equal(rec_take(&r), "L:begin; L:add 8000-807f dev@80; "
                        "L:efd_add 8010/0 dev fd4; L:commit; ");
    assert_int_equal(m.as.ioeventfd_nb, 3);
    assert_int_equal(memory_region_del_eventfd(&dev, 0x90, 0, false, 0, 4, NULL), 0);
    assert_string_equal(rec_take(&r),
        "L:begin; L:nop 1000-10ff dev; L:nop 8000-807f dev@80; L:efd_del 1090/0 dev fd4; "
        "L:efd_del 8010/0 dev fd4; L:commit; ");
    memory_region_set_enabled(&dev, false);
    assert_string_equal(rec_take(&r), "L:begin; L:del 1000-10ff dev; L:del 8000-807f dev@80; "
                        "L:efd_del 1000/2 dev fd3; L:commit; ");
    assert_int_equal(m.as.ioeventfd_nb, 0);
    memory_listener_unregister(&r.l);
    rec_fini(&r);
    assert_int_equal(memory_region_del_subregion(&m.root, &win, NULL), 0);
    assert_int_equal(memory_region_del_subregion(&m.root, &dev, NULL), 0);
    memory_region_finalize(&win);
    memory_region_finalize(&dev);
    test_machine_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_replays_and_unregister_removes),
        cmocka_unit_test(commit_reports_deletions_first_in_address_order),
        cmocka_unit_test(listener_priority_orders_callbacks),
        cmocka_unit_test(dirty_logging_events),
        cmocka_unit_test(global_log_start_reaches_late_listeners),
        cmocka_unit_test(ioeventfds_follow_visibility),
    };
    return cmocka_run_group_tests_name("memory_listener", tests, NULL, NULL);
}
