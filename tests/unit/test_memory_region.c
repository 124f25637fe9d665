/*
 * Unit tests for the region tree: init, canonical paths, properties, tree edits and
 * their errors, FlatView rendering (priority, aliases, clipping, disabled regions,
 * transparent containers, merging), transactions, lookups and the mtree dumps.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memory/memory-internal.h"
#include "util/log.h"

/* The view as compact text: "start-last name[@offset][ ro]" joined by "; ". */
static const char *flat_text(AddressSpace *as)
{
    static char text[8192];
    text[0] = '\0';     /* fmemopen writes no terminator when nothing is written */
    FILE *f = fmemopen(text, sizeof(text), "w");
    assert_non_null(f);
    FlatView *fv = as->current_map;
    for (unsigned i = 0; i < fv->nr; i++) {
        const FlatRange *fr = &fv->ranges[i];
        fprintf(f, "%s%llx-%llx %s", i ? "; " : "", (unsigned long long)fr->addr,
                (unsigned long long)(flatrange_end(fr) - 1), fr->mr->name);
        if (fr->offset_in_region)
            fprintf(f, "@%llx", (unsigned long long)fr->offset_in_region);
        if (fr->readonly)
            fputs(" ro", f);
    }
    fclose(f);
    return text;
}

/* ---- init, paths, properties ----------------------------------------------------- */

static void init_sets_defaults(void **state)
{
    MemoryRegion c, io, big;
    memory_region_init(&c, NULL, "c", 0x1000);
    memory_region_init_io(&io, "/machine/dev", NULL, NULL, "io", 0x10);
    memory_region_init(&big, NULL, "big", UINT64_MAX);
    assert_int_equal(c.kind, MR_KIND_CONTAINER);
    assert_false(c.terminates);
    assert_true(io.terminates);
    assert_true(io.enabled);
    assert_true(io.romd_mode);
    assert_ptr_equal(io.ops, &unassigned_mem_ops);     /* no ops: answers unassigned */
    assert_true(big.size == MEMSIZE_2_64);
    assert_true(memory_region_size(&big) == UINT64_MAX);
    assert_int_equal(memory_region_size(&io), 0x10);
    assert_string_equal(memory_region_name(&io), "io");
    assert_false(memory_region_is_ram(&io));
    assert_false(memory_region_is_romd(&io));
    memory_region_finalize(&c);
    memory_region_finalize(&io);
    memory_region_finalize(&big);
}

static void canonical_paths_count_and_escape(void **state)
{
    MemoryRegion a, b, c, d, anon;
    memory_region_init(&a, NULL, "pci", 1);
    memory_region_init(&b, NULL, "pci", 1);
    memory_region_init(&c, "/machine/uart0", "weird/name[x]\\", 1);
    memory_region_init(&anon, NULL, NULL, 1);
    assert_string_equal(memory_region_path(&a), "/machine/unattached/pci[0]");
    assert_string_equal(memory_region_path(&b), "/machine/unattached/pci[1]");
    assert_string_equal(memory_region_path(&c),
                        "/machine/uart0/weird\\x2fname\\x5bx\\x5d\\x5c[0]");
    assert_string_equal(memory_region_path(&anon), "");
    assert_string_equal(memory_region_name(&anon), "(anonymous)");
    memory_region_finalize(&a);
    /* the lowest free index is reused */
    memory_region_init(&d, NULL, "pci", 1);
    assert_string_equal(memory_region_path(&d), "/machine/unattached/pci[0]");
    memory_region_finalize(&b);
    memory_region_finalize(&c);
    memory_region_finalize(&d);
    memory_region_finalize(&anon);
}

static void properties_by_name(void **state)
{
    MemoryRegion root, sub, huge;
    char buf[64];
    uint64_t v;
    memory_region_init(&root, "/machine", "root", UINT64_MAX);
    memory_region_init_io(&sub, NULL, NULL, NULL, "sub", 0x100);
    memory_region_init(&huge, NULL, "huge", UINT64_MAX);
    assert_int_equal(memory_region_get_property(&sub, "container", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(memory_region_add_subregion_overlap(&root, 0x3000, &sub, -2, NULL), 0);
    assert_int_equal(memory_region_get_property(&sub, "container", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/machine/root[0]");
    assert_int_equal(memory_region_get_property(&sub, "addr", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "12288");
    assert_int_equal(memory_region_get_property(&sub, "priority", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "-2");
    assert_int_equal(memory_region_get_property(&sub, "may-overlap", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "true");
    assert_int_equal(memory_region_get_property(&root, "may-overlap", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "false");
    assert_int_equal(memory_region_get_property(&sub, "size", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "256");
    assert_int_equal(memory_region_get_property(&huge, "size", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "18446744073709551616");
    assert_int_equal(memory_region_get_property(&sub, "colour", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(memory_region_get_property(&huge, "size", buf, 20), -ERANGE);
    assert_int_equal(memory_region_get_property(&sub, "container", buf, 4), -ERANGE);

    assert_int_equal(memory_region_get_property_u64(&sub, "addr", &v), 0);
    assert_int_equal(v, 0x3000);
    assert_int_equal(memory_region_get_property_u64(&sub, "priority", &v), 0);
    assert_int_equal(v, 0xfffffffe);
    assert_int_equal(memory_region_get_property_u64(&sub, "may-overlap", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(memory_region_get_property_u64(&huge, "size", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(memory_region_get_property_u64(&sub, "container", &v), -ENOENT);

    assert_int_equal(memory_region_del_subregion(&root, &sub, NULL), 0);
    memory_region_finalize(&sub);
    memory_region_finalize(&root);
    memory_region_finalize(&huge);
}

/* ---- tree edit errors ------------------------------------------------------------ */

static void add_twice_and_delete_stranger_fail(void **state)
{
    MemoryRegion root, other, sub;
    Error *err = NULL;
    memory_region_init(&root, NULL, "root", 0x10000);
    memory_region_init(&other, NULL, "other", 0x10000);
    memory_region_init_io(&sub, NULL, NULL, NULL, "dev", 0x10);
    assert_int_equal(memory_region_add_subregion(&root, 0, &sub, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&other, 0, &sub, &err), -EEXIST);
    assert_string_equal(error_get_pretty(err),
                        "cannot add region 'dev' to 'other': it is already in 'root'");
    error_free(err);
    err = NULL;
    assert_int_equal(memory_region_del_subregion(&other, &sub, &err), -ENOENT);
    assert_string_equal(error_get_pretty(err),
                        "cannot delete region 'dev' from 'other': it is not a child of it");
    error_free(err);
    assert_ptr_equal(sub.container, &root);
    assert_int_equal(memory_region_del_subregion(&root, &sub, NULL), 0);
    assert_null(sub.container);
    memory_region_finalize(&root);
    memory_region_finalize(&other);
    memory_region_finalize(&sub);
}

static void containment_and_alias_cycles_fail(void **state)
{
    MemoryRegion a, b, alias;
    Error *err = NULL;
    memory_region_init(&a, NULL, "a", 0x10000);
    memory_region_init(&b, NULL, "b", 0x1000);
    assert_int_equal(memory_region_add_subregion(&a, 0, &b, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&b, 0, &a, &err), -ELOOP);
    assert_non_null(strstr(error_get_pretty(err), "cannot add region 'a' to 'b'"));
    error_free(err);
    err = NULL;
    assert_int_equal(memory_region_add_subregion(&a, 0, &a, &err), -ELOOP);
    error_free(err);
    err = NULL;
    /* an alias of a, placed inside a's child b, would render a inside itself */
    memory_region_init_alias(&alias, NULL, "loop", &a, 0, 0x100);
    assert_int_equal(a.alias_count, 1);
    assert_int_equal(memory_region_add_subregion(&b, 0x10, &alias, &err), -ELOOP);
    assert_non_null(strstr(error_get_pretty(err), "would contain itself"));
    error_free(err);
    assert_null(alias.container);
    memory_region_finalize(&alias);
    assert_int_equal(a.alias_count, 0);
    assert_int_equal(memory_region_del_subregion(&a, &b, NULL), 0);
    memory_region_finalize(&a);
    memory_region_finalize(&b);
}

/* Run fn with stderr captured; returns what it printed (static buffer). */
static const char *capture_stderr(void (*fn)(void *), void *arg)
{
    static char out[4096];
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof(out) - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return out;
}

struct overlap_case { MemoryRegion *root, *x, *y, *z; };

static void add_overlapping(void *arg)
{
    struct overlap_case *c = arg;
    assert_int_equal(memory_region_add_subregion(c->root, 0x1000, c->x, NULL), 0);
    assert_int_equal(memory_region_add_subregion(c->root, 0x1800, c->y, NULL), 0);
}

static void add_overlap_allowed(void *arg)
{
    struct overlap_case *c = arg;
    assert_int_equal(memory_region_add_subregion_overlap(c->root, 0x1000, c->z, 1, NULL), 0);
}

static void non_overlapping_collision_is_warned(void **state)
{
    MemoryRegion root, x, y, z;
    memory_region_init(&root, NULL, "root", 0x10000);
    memory_region_init_io(&x, NULL, NULL, NULL, "x", 0x1000);
    memory_region_init_io(&y, NULL, NULL, NULL, "y", 0x1000);
    memory_region_init_io(&z, NULL, NULL, NULL, "z", 0x1000);
    struct overlap_case c = { &root, &x, &y, &z };
    log_set_level(LOG_WARN);
    const char *out = capture_stderr(add_overlapping, &c);
    assert_non_null(strstr(out, "region 'y' at 0x1800 in 'root' overlaps 'x' at 0x1000"));
    out = capture_stderr(add_overlap_allowed, &c);
    assert_string_equal(out, "");
    /* both were still added: the warning reports, it does not refuse */
    assert_ptr_equal(y.container, &root);
    memory_region_finalize(&root);
    memory_region_finalize(&x);
    memory_region_finalize(&y);
    memory_region_finalize(&z);
}

static void eventfd_declaration_errors(void **state)
{
    MemoryRegion io;
    Error *err = NULL;
    memory_region_init_io(&io, NULL, NULL, NULL, "doorbell", 0x100);
    assert_int_equal(memory_region_add_eventfd(&io, 0x10, 3, false, 0, 7, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "size 3 is not 0, 1, 2, 4 or 8"));
    error_free(err);
    err = NULL;
    assert_int_equal(memory_region_add_eventfd(&io, 0xfe, 4, false, 0, 7, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "lies outside the region"));
    error_free(err);
    err = NULL;
    assert_int_equal(memory_region_add_eventfd(&io, 0x10, 4, true, 5, 7, NULL), 0);
    assert_int_equal(memory_region_add_eventfd(&io, 0x10, 4, true, 5, 7, &err), -EEXIST);
    error_free(err);
    err = NULL;
    assert_int_equal(memory_region_add_eventfd(&io, 0x8, 0, false, 99, 8, NULL), 0);
    assert_int_equal(io.ioeventfd_nb, 2);
    assert_int_equal(io.ioeventfds[0].addr, 0x8);      /* kept sorted */
    assert_int_equal(io.ioeventfds[0].data, 0);        /* data ignored without match */
    assert_int_equal(memory_region_del_eventfd(&io, 0x10, 4, true, 6, 7, &err), -ENOENT);
    assert_non_null(strstr(error_get_pretty(err), "no ioeventfd on region 'doorbell'"));
    error_free(err);
    assert_int_equal(memory_region_del_eventfd(&io, 0x10, 4, true, 5, 7, NULL), 0);
    assert_int_equal(io.ioeventfd_nb, 1);
    memory_region_finalize(&io);
}

/* ---- programming errors stop with a message naming the region --------------------- */

/* Run fn(arg) in a child: it must abort, printing `expected` on stderr. */
static void expect_fatal(void (*fn)(void *), void *arg, const char *expected)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        log_set_level(LOG_WARN);
        fn(arg);
        _exit(0);       /* should not get here */
    }
    close(pipefd[1]);
    char out[1024];
    size_t len = 0;
    ssize_t n;
    while ((n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    if (!strstr(out, expected))
        fail_msg("expected \"%s\" in: %s", expected, out);
}

static void finalize_child_still_in_container(void *arg)
{
    MemoryRegion *root = arg, *dev = malloc(sizeof(*dev));
    memory_region_init_io(dev, NULL, NULL, NULL, "uart", 8);
    memory_region_add_subregion(root, 0, dev, NULL);
    memory_region_finalize(dev);
}

static void finalize_alias_target(void *arg)
{
    MemoryRegion *target = malloc(sizeof(*target)), *alias = malloc(sizeof(*alias));
    memory_region_init_io(target, NULL, NULL, NULL, "bios", 0x100);
    memory_region_init_alias(alias, NULL, "bios-alias", target, 0, 0x100);
    memory_region_finalize(target);
}

static void finalize_address_space_root(void *arg)
{
    memory_region_finalize(arg);
}

static void alias_offset_on_io(void *arg)
{
    MemoryRegion *io = malloc(sizeof(*io));
    memory_region_init_io(io, NULL, NULL, NULL, "timer", 8);
    memory_region_set_alias_offset(io, 4);
}

static void romd_on_io(void *arg)
{
    MemoryRegion *io = malloc(sizeof(*io));
    memory_region_init_io(io, NULL, NULL, NULL, "rtc", 8);
    memory_region_rom_device_set_romd(io, false);
}

static void alias_of_itself(void *arg)
{
    MemoryRegion *a = malloc(sizeof(*a));
    memset(a, 0, sizeof(*a));
    a->name = "selfish";
    memory_region_init_alias(a, NULL, "selfish", a, 0, 8);
}

static void misuse_stops_with_region_name(void **state)
{
    static MemoryRegion root;
    static AddressSpace as;
    memory_region_init(&root, NULL, "sysmem", 0x10000);
    expect_fatal(finalize_child_still_in_container, &root,
                 "memory_region_finalize: region 'uart': still in a container");
    expect_fatal(finalize_alias_target, NULL,
                 "memory_region_finalize: region 'bios': still the target of aliases");
    assert_int_equal(address_space_init(&as, &root, "sys", NULL), 0);
    expect_fatal(finalize_address_space_root, &root,
                 "region 'sysmem': still the root of an address space");
    address_space_destroy(&as);
    expect_fatal(alias_offset_on_io, NULL,
                 "memory_region_set_alias_offset: region 'timer': not an alias");
    expect_fatal(romd_on_io, NULL,
                 "memory_region_rom_device_set_romd: region 'rtc': not a ROM device");
    expect_fatal(alias_of_itself, NULL, "region 'selfish': an alias cannot target itself");
    memory_region_finalize(&root);
}

/* ---- rendering ------------------------------------------------------------------- */

static void render_priorities_and_later_added(void **state)
{
    static TestMachine m;
    MemoryRegion lo, hi, eq1, eq2;
    test_machine_init(&m, 0x10000);
    memory_region_init_io(&lo, NULL, NULL, NULL, "lo", 0x4000);
    memory_region_init_io(&hi, NULL, NULL, NULL, "hi", 0x1000);
    memory_region_init_io(&eq1, NULL, NULL, NULL, "eq1", 0x1000);
    memory_region_init_io(&eq2, NULL, NULL, NULL, "eq2", 0x1000);
    assert_string_equal(flat_text(&m.as), "");
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0x1000, &hi, 5, NULL), 0);
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0, &lo, 0, NULL), 0);
    assert_string_equal(flat_text(&m.as), "0-fff lo; 1000-1fff hi; 2000-3fff lo@2000");
    /* equal priorities: the later-added wins */
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0x8000, &eq1, 1, NULL), 0);
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0x8800, &eq2, 1, NULL), 0);
    assert_string_equal(flat_text(&m.as), "0-fff lo; 1000-1fff hi; 2000-3fff lo@2000; "
                        "8000-87ff eq1; 8800-97ff eq2");
    /* moving re-adds: eq1 becomes the later-added one */
    memory_region_set_address(&eq1, 0x8400);
    assert_string_equal(flat_text(&m.as), "0-fff lo; 1000-1fff hi; 2000-3fff lo@2000; "
                        "8400-93ff eq1; 9400-97ff eq2@c00");
    MemoryRegion *children[] = { &lo, &hi, &eq1, &eq2 };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(memory_region_del_subregion(&m.root, children[i], NULL), 0);
        memory_region_finalize(children[i]);
    }
    assert_string_equal(flat_text(&m.as), "");
    test_machine_fini(&m);
}

static void render_aliases_with_offset_and_clipping(void **state)
{
    static TestMachine m;
    MemoryRegion ram, low, high, win;
    test_machine_init(&m, UINT64_MAX);
    memory_region_init_io(&ram, NULL, NULL, NULL, "ram", 0x10000);   /* never added itself */
    memory_region_init_alias(&low, NULL, "low", &ram, 0, 0xa000);
    memory_region_init_alias(&high, NULL, "high", &ram, 0xc000, 0x8000);  /* clipped at 0x4000 */
    assert_int_equal(memory_region_add_subregion(&m.root, 0, &low, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x100000, &high, NULL), 0);
    assert_string_equal(flat_text(&m.as), "0-9fff ram; 100000-103fff ram@c000");
    memory_region_set_alias_offset(&high, 0x1000);
    assert_string_equal(flat_text(&m.as), "0-9fff ram; 100000-107fff ram@1000");
    /* an alias smaller than its placement inside a container clips the target */
    memory_region_init_alias(&win, NULL, "win", &ram, 0xff00, 0x1000);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x200000, &win, NULL), 0);
    assert_string_equal(flat_text(&m.as),
                        "0-9fff ram; 100000-107fff ram@1000; 200000-2000ff ram@ff00");
    /* an alias of an alias */
    MemoryRegion twice;
    memory_region_init_alias(&twice, NULL, "twice", &high, 0x10, 0x20);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x300000, &twice, NULL), 0);
    assert_string_equal(flat_text(&m.as), "0-9fff ram; 100000-107fff ram@1000; "
                        "200000-2000ff ram@ff00; 300000-30001f ram@1010");
    MemoryRegion *subs[] = { &twice, &low, &high, &win };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(memory_region_del_subregion(&m.root, subs[i], NULL), 0);
        memory_region_finalize(subs[i]);
    }
    memory_region_finalize(&ram);
    test_machine_fini(&m);
}

static void render_disabled_and_transparent_containers(void **state)
{
    static TestMachine m;
    MemoryRegion bg, box, inner, dev;
    test_machine_init(&m, 0x100000);
    memory_region_init_io(&bg, NULL, NULL, NULL, "bg", 0x100000);
    memory_region_init(&box, NULL, "box", 0x10000);
    memory_region_init_io(&inner, NULL, NULL, NULL, "inner", 0x1000);
    memory_region_init_io(&dev, NULL, NULL, NULL, "dev", 0x1000);
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0, &bg, -1, NULL), 0);
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0x20000, &box, 1, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&box, 0x2000, &inner, NULL), 0);
    /* the container's holes show the lower-priority background */
    assert_string_equal(flat_text(&m.as),
                        "0-21fff bg; 22000-22fff inner; 23000-fffff bg@23000");
    memory_region_set_enabled(&inner, false);
    assert_string_equal(flat_text(&m.as), "0-fffff bg");
    memory_region_set_enabled(&inner, true);
    memory_region_set_enabled(&box, false);
    assert_string_equal(flat_text(&m.as), "0-fffff bg");
    memory_region_set_enabled(&box, true);
    /* a child sticking out of its container is clipped by it */
    assert_int_equal(memory_region_add_subregion(&box, 0xf800, &dev, NULL), 0);
    assert_string_equal(flat_text(&m.as), "0-21fff bg; 22000-22fff inner; "
                        "23000-2f7ff bg@23000; 2f800-2ffff dev; 30000-fffff bg@30000");
    memory_region_set_size(&box, 0x20000);
    assert_string_equal(flat_text(&m.as), "0-21fff bg; 22000-22fff inner; "
                        "23000-2f7ff bg@23000; 2f800-307ff dev; 30800-fffff bg@30800");
    memory_region_set_readonly(&box, true);
    assert_string_equal(flat_text(&m.as), "0-21fff bg; 22000-22fff inner ro; "
                        "23000-2f7ff bg@23000; 2f800-307ff dev ro; 30800-fffff bg@30800");
    assert_int_equal(memory_region_del_subregion(&m.root, &box, NULL), 0);
    memory_region_finalize(&box);   /* deletes its children */
    assert_null(inner.container);
    assert_null(dev.container);
    assert_string_equal(flat_text(&m.as), "0-fffff bg");
    assert_int_equal(memory_region_del_subregion(&m.root, &bg, NULL), 0);
    test_machine_fini(&m);
    memory_region_finalize(&bg);
    memory_region_finalize(&inner);
    memory_region_finalize(&dev);
}

static void render_merges_contiguous_pieces_only(void **state)
{
    static TestMachine m;
    MemoryRegion ram, a1, a2, a3;
    test_machine_init(&m, 0x100000);
    memory_region_init_io(&ram, NULL, NULL, NULL, "ram", 0x10000);
    memory_region_init_alias(&a1, NULL, "a1", &ram, 0, 0x1000);
    memory_region_init_alias(&a2, NULL, "a2", &ram, 0x1000, 0x1000);
    memory_region_init_alias(&a3, NULL, "a3", &ram, 0x3000, 0x1000);
    assert_int_equal(memory_region_add_subregion(&m.root, 0, &a1, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x1000, &a2, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x2000, &a3, NULL), 0);
    /* a1+a2 continue each other in ram and merge; a3 jumps in the region */
    assert_string_equal(flat_text(&m.as), "0-1fff ram; 2000-2fff ram@3000");
    assert_int_equal(m.as.current_map->nr, 2);
    /* different attributes do not merge */
    memory_region_set_readonly(&a2, true);
    assert_string_equal(flat_text(&m.as), "0-fff ram; 1000-1fff ram@1000 ro; 2000-2fff ram@3000");
    memory_region_set_readonly(&a2, false);
    assert_string_equal(flat_text(&m.as), "0-1fff ram; 2000-2fff ram@3000");
    /* dirty logging and romd are attributes of the range too */
    memory_region_set_log(&ram, true, DIRTY_MEMORY_VGA);
    assert_int_equal(m.as.current_map->ranges[0].dirty_log_mask, 1u << DIRTY_MEMORY_VGA);
    MemoryRegion *subs[] = { &a1, &a2, &a3 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(memory_region_del_subregion(&m.root, subs[i], NULL), 0);
        memory_region_finalize(subs[i]);
    }
    memory_region_finalize(&ram);
    test_machine_fini(&m);
}

static void render_full_2_64_and_last_page(void **state)
{
    static TestMachine m;
    MemoryRegion all, top;
    test_machine_init(&m, UINT64_MAX);
    memory_region_init_io(&all, NULL, NULL, NULL, "all", UINT64_MAX);
    memory_region_init_io(&top, NULL, NULL, NULL, "top", 0x2000);
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0, &all, 0, NULL), 0);
    assert_string_equal(flat_text(&m.as), "0-ffffffffffffffff all");
    assert_true(m.as.current_map->ranges[0].size == MEMSIZE_2_64);
    /* a region reaching past 2^64 is clipped by the root */
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0xfffffffffffff000ULL, &top,
                                                         1, NULL), 0);
    assert_string_equal(flat_text(&m.as),
                        "0-ffffffffffffefff all; fffffffffffff000-ffffffffffffffff top");
    MemoryRegionSection s = address_space_lookup(&m.as, 0xfffffffffffffff0ULL);
    assert_ptr_equal(s.mr, &top);
    assert_int_equal(s.offset_within_region, 0xff0);
    assert_true(s.size == 0x10);
    s = address_space_lookup(&m.as, 0x1234);
    assert_ptr_equal(s.mr, &all);
    assert_int_equal(s.offset_within_region, 0x1234);
    assert_true(s.size == (MemSize)0xfffffffffffff000ULL - 0x1234);
    memory_region_set_enabled(&all, false);
    s = address_space_lookup(&m.as, 0x1234);
    assert_null(s.mr);
    assert_true(s.size == (MemSize)0xfffffffffffff000ULL - 0x1234);
    assert_int_equal(memory_region_del_subregion(&m.root, &all, NULL), 0);
    assert_int_equal(memory_region_del_subregion(&m.root, &top, NULL), 0);
    s = address_space_lookup(&m.as, 0xffffffffffffffffULL);
    assert_null(s.mr);
    assert_true(s.size == 1);
    memory_region_finalize(&all);
    memory_region_finalize(&top);
    test_machine_fini(&m);
}

static void flatview_ref_keeps_old_view(void **state)
{
    static TestMachine m;
    MemoryRegion dev;
    test_machine_init(&m, 0x10000);
    memory_region_init_io(&dev, NULL, NULL, NULL, "dev", 0x100);
    assert_int_equal(memory_region_add_subregion(&m.root, 0, &dev, NULL), 0);
    FlatView *old = address_space_get_flatview(&m.as);
    assert_int_equal(old->ref, 2);
    memory_region_set_address(&dev, 0x200);
    /* the reader's view is untouched; the address space has a new one */
    assert_ptr_not_equal(m.as.current_map, old);
    assert_int_equal(old->nr, 1);
    assert_int_equal(old->ranges[0].addr, 0);
    assert_string_equal(flat_text(&m.as), "200-2ff dev");
    assert_non_null(m.as.current_map->dispatch);
    flatview_unref(old);
    assert_int_equal(memory_region_del_subregion(&m.root, &dev, NULL), 0);
    memory_region_finalize(&dev);
    test_machine_fini(&m);
}

/* ---- transactions ---------------------------------------------------------------- */

static void transactions_nest_and_touch_only_changed_spaces(void **state)
{
    static TestMachine m, other;
    MemoryRegion a, b;
    test_machine_init(&m, 0x10000);
    test_machine_init(&other, 0x10000);
    TestCountingListener cl, co;
    test_counting_listener_init(&cl);
    test_counting_listener_init(&co);
    memory_listener_register(&cl.l, &m.as);
    memory_listener_register(&co.l, &other.as);
    assert_int_equal(cl.begins, 1);     /* the (empty) replay */
    memory_region_init_io(&a, NULL, NULL, NULL, "a", 0x100);
    memory_region_init_io(&b, NULL, NULL, NULL, "b", 0x100);

    assert_int_equal(memory_region_transaction_depth(), 0);
    memory_region_transaction_begin();
    memory_region_transaction_begin();
    assert_int_equal(memory_region_transaction_depth(), 2);
    assert_int_equal(memory_region_add_subregion(&m.root, 0, &a, NULL), 0);
    memory_region_transaction_commit();
    assert_int_equal(memory_region_add_subregion(&m.root, 0x1000, &b, NULL), 0);
    memory_region_set_address(&b, 0x2000);
    /* nothing rendered or announced before the outermost commit */
    assert_int_equal(m.as.current_map->nr, 0);
    assert_int_equal(cl.begins, 1);
    assert_int_equal(cl.adds, 0);
    memory_region_transaction_commit();
    assert_int_equal(memory_region_transaction_depth(), 0);
    assert_string_equal(flat_text(&m.as), "0-ff a; 2000-20ff b");
    assert_int_equal(cl.begins, 2);
    assert_int_equal(cl.commits, 2);
    assert_int_equal(cl.adds, 2);
    /* the other address space was not touched at all */
    assert_int_equal(co.begins, 1);
    assert_int_equal(co.commits, 1);
    /* an edit outside any address space touches nobody */
    MemoryRegion loose;
    memory_region_init_io(&loose, NULL, NULL, NULL, "loose", 0x10);
    memory_region_set_address(&loose, 0x10);
    memory_region_set_enabled(&loose, false);
    assert_int_equal(cl.begins, 2);
    memory_region_finalize(&loose);

    memory_listener_unregister(&cl.l);
    assert_int_equal(cl.dels, 2);
    memory_listener_unregister(&co.l);
    assert_int_equal(memory_region_del_subregion(&m.root, &a, NULL), 0);
    assert_int_equal(memory_region_del_subregion(&m.root, &b, NULL), 0);
    memory_region_finalize(&a);
    memory_region_finalize(&b);
    test_machine_fini(&m);
    test_machine_fini(&other);
}

static void many_spans_fall_back_to_one_full_render(void **state)
{
    enum { N = 200 };
    static TestMachine m;
    static MemoryRegion devs[N];
    test_machine_init(&m, UINT64_MAX);
    memory_region_transaction_begin();
    for (int i = 0; i < N; i++) {
        memory_region_init_io(&devs[i], NULL, NULL, NULL, "dev", 0x100);
        assert_int_equal(memory_region_add_subregion(&m.root, 0x10000ULL * i, &devs[i], NULL), 0);
    }
    memory_region_transaction_commit();
    assert_int_equal(m.as.current_map->nr, N);
    TestCountingListener cl;
    test_counting_listener_init(&cl);
    memory_listener_register(&cl.l, &m.as);
    cl.adds = 0;
    /* a few edits: only their spans are redone, untouched ranges are not reported */
    memory_region_transaction_begin();
    for (int i = 0; i < 3; i++)
        memory_region_set_address(&devs[i], devs[i].addr + 0x1000);
    memory_region_transaction_commit();
    assert_int_equal(cl.dels, 3);
    assert_int_equal(cl.adds, 3);
    assert_int_equal(cl.nops, 0);
    /* many separate edits: one full render, every unchanged range is a nop */
    cl.adds = cl.dels = 0;
    memory_region_transaction_begin();
    for (int i = 0; i < N; i += 2)
        memory_region_set_address(&devs[i], devs[i].addr + 0x1000);
    memory_region_transaction_commit();
    assert_int_equal(cl.dels, N / 2);
    assert_int_equal(cl.adds, N / 2);
    assert_int_equal(cl.nops, N / 2);
    FlatView *full = flatview_render(&m.root, NULL);
    assert_int_equal(full->nr, m.as.current_map->nr);
    for (unsigned i = 0; i < full->nr; i++) {
        const FlatRange *a = &full->ranges[i], *b = &m.as.current_map->ranges[i];
        assert_ptr_equal(a->mr, b->mr);
        assert_int_equal(a->addr, b->addr);
        assert_true(a->size == b->size);
    }
    flatview_unref(full);
    memory_listener_unregister(&cl.l);
    memory_region_transaction_begin();
    for (int i = 0; i < N; i++) {
        assert_int_equal(memory_region_del_subregion(&m.root, &devs[i], NULL), 0);
        memory_region_finalize(&devs[i]);
    }
    memory_region_transaction_commit();
    test_machine_fini(&m);
}

static void alias_target_edits_touch_only_spaces_showing_them(void **state)
{
    static TestMachine m, other;
    MemoryRegion box, dev, win;
    test_machine_init(&m, 0x100000);
    test_machine_init(&other, 0x100000);
    memory_region_init(&box, NULL, "box", 0x10000);        /* in no address space itself */
    memory_region_init_io(&dev, NULL, NULL, NULL, "dev", 0x100);
    memory_region_init_alias(&win, NULL, "win", &box, 0x8000, 0x1000);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x40000, &win, NULL), 0);
    TestCountingListener cl, co;
    test_counting_listener_init(&cl);
    test_counting_listener_init(&co);
    memory_listener_register(&cl.l, &m.as);
    memory_listener_register(&co.l, &other.as);
    /* dev lands in the window of the alias: only m sees it, at 0x40000 + 0x100 */
    assert_int_equal(memory_region_add_subregion(&box, 0x8100, &dev, NULL), 0);
    assert_string_equal(flat_text(&m.as), "40100-401ff dev");
    assert_int_equal(cl.adds, 1);
    assert_int_equal(co.begins, 1);                         /* only its registration */
    /* moved outside the window: gone from m, still nothing for other */
    memory_region_set_address(&dev, 0x100);
    assert_string_equal(flat_text(&m.as), "");
    assert_int_equal(cl.dels, 1);
    assert_int_equal(co.begins, 1);
    memory_listener_unregister(&cl.l);
    memory_listener_unregister(&co.l);
    assert_int_equal(memory_region_del_subregion(&m.root, &win, NULL), 0);
    memory_region_finalize(&win);
    assert_int_equal(memory_region_del_subregion(&box, &dev, NULL), 0);
    memory_region_finalize(&dev);
    memory_region_finalize(&box);
    test_machine_fini(&m);
    test_machine_fini(&other);
}

static void finalize_removes_children(void **state)
{
    static TestMachine m;
    MemoryRegion box, dev;
    test_machine_init(&m, 0x10000);
    memory_region_init(&box, NULL, "box", 0x1000);
    memory_region_init_io(&dev, NULL, NULL, NULL, "dev", 0x10);
    assert_int_equal(memory_region_add_subregion(&box, 0, &dev, NULL), 0);
    memory_region_finalize(&box);
    assert_null(dev.container);
    memory_region_finalize(&dev);
    test_machine_fini(&m);
}

static void destroy_announces_removal(void **state)
{
    static TestMachine m;
    MemoryRegion dev;
    test_machine_init(&m, 0x10000);
    memory_region_init_io(&dev, NULL, NULL, NULL, "dev", 0x10);
    assert_int_equal(memory_region_add_subregion(&m.root, 0, &dev, NULL), 0);
    TestCountingListener cl;
    test_counting_listener_init(&cl);
    memory_listener_register(&cl.l, &m.as);
    assert_int_equal(cl.adds, 1);
    address_space_destroy(&m.as);
    assert_int_equal(cl.dels, 1);
    assert_null(cl.l.address_space);
    assert_int_equal(memory_region_del_subregion(&m.root, &dev, NULL), 0);
    memory_region_finalize(&dev);
    memory_region_finalize(&m.root);
}

/* ---- dumps ----------------------------------------------------------------------- */

static char *dump(void (*fn)(FILE *, AddressSpace *), AddressSpace *as)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, as);
    fclose(f);
    return buf;
}

static void mtree_dumps_tree_and_flat_view(void **state)
{
    static TestMachine m;
    MemoryRegion ram, low, dev, off;
    test_machine_init(&m, UINT64_MAX);
    memory_region_init_io(&ram, NULL, NULL, NULL, "pc.ram", 0x100000);
    memory_region_init_alias(&low, NULL, "ram-low", &ram, 0, 0xa0000);
    memory_region_init_io(&dev, NULL, NULL, NULL, "vga", 0x20000);
    memory_region_init_io(&off, NULL, NULL, NULL, "off", 0x10);
    assert_int_equal(memory_region_add_subregion_overlap(&m.root, 0xa0000, &dev, 1, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0, &low, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0xf0000, &off, NULL), 0);
    memory_region_set_enabled(&off, false);
    char *tree = dump(mtree_print, &m.as);
    assert_string_equal(tree,
        "address-space: test\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): root\n"
        "    0000000000000000-000000000009ffff (prio 0, i/o): alias ram-low @pc.ram "
        "0000000000000000-000000000009ffff\n"
        "    00000000000a0000-00000000000bffff (prio 1, i/o): vga\n"
        "    00000000000f0000-00000000000f000f (prio 0, i/o): off [disabled]\n"
        "\n"
        "memory-region: pc.ram\n"
        "  0000000000000000-00000000000fffff (prio 0, i/o): pc.ram\n");
    free(tree);
    char *flat = dump(mtree_print_flatview, &m.as);
    assert_string_equal(flat,
        "FlatView for \"test\", root: root\n"
        "  0000000000000000-000000000009ffff (prio 0, i/o): pc.ram\n"
        "  00000000000a0000-00000000000bffff (prio 1, i/o): vga\n");
    free(flat);
    MemoryRegion *subs[] = { &low, &dev, &off };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(memory_region_del_subregion(&m.root, subs[i], NULL), 0);
        memory_region_finalize(subs[i]);
    }
    flat = dump(mtree_print_flatview, &m.as);
    assert_string_equal(flat, "FlatView for \"test\", root: root\n  No rendered FlatView\n");
    free(flat);
    memory_region_finalize(&ram);
    test_machine_fini(&m);
}

static void io_without_ops_answers_unassigned(void **state)
{
    static TestMachine m;
    MemoryRegion dev;
    test_machine_init(&m, 0x10000);
    memory_region_init_io(&dev, NULL, NULL, NULL, "noops", 0x100);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x100, &dev, NULL), 0);
    /* exactly like a hole: all ones and a decode error, as QEMU's unassigned_mem_ops */
    uint32_t v = 0, hole = 0;
    MemTxResult r = address_space_read(&m.as, 0x104, MEMTXATTRS_UNSPECIFIED, &v, 4);
    MemTxResult rh = address_space_read(&m.as, 0x8000, MEMTXATTRS_UNSPECIFIED, &hole, 4);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(hole, 0xffffffff);
    assert_int_equal(r, MEMTX_DECODE_ERROR);
    assert_int_equal(rh, MEMTX_DECODE_ERROR);
    assert_int_equal(address_space_write(&m.as, 0x104, MEMTXATTRS_UNSPECIFIED, &v, 4),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(memory_region_del_subregion(&m.root, &dev, NULL), 0);
    memory_region_finalize(&dev);
    test_machine_fini(&m);
}

static void ram_rom_and_romd_kinds(void **state)
{
    static TestMachine m;
    static uint8_t backing[0x1000] __attribute__((aligned(4096)));
    MemoryRegion ram, romdev, ro;
    test_machine_init(&m, 0x100000);
    assert_int_equal(memory_region_init_ram_ptr(&ram, NULL, "ram", sizeof(backing), backing,
                                                NULL), 0);
    assert_int_equal(memory_region_init_rom_device(&romdev, NULL, NULL, NULL, "flash", 0x1000,
                                                   NULL), 0);
    memory_region_init_alias(&ro, NULL, "ro", &ram, 0, 0x1000);
    memory_region_set_readonly(&ro, true);
    assert_int_equal(memory_region_add_subregion(&m.root, 0, &ram, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x1000, &romdev, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m.root, 0x2000, &ro, NULL), 0);
    assert_true(memory_region_is_ram(&ram));
    assert_true(memory_region_is_romd(&romdev));
    assert_true(m.as.current_map->ranges[1].romd_mode);
    char *flat = dump(mtree_print_flatview, &m.as);
    assert_string_equal(flat,
        "FlatView for \"test\", root: root\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): ram\n"
        "  0000000000001000-0000000000001fff (prio 0, romd): flash\n"
        "  0000000000002000-0000000000002fff (prio 0, rom): ram\n");
    free(flat);
    memory_region_rom_device_set_romd(&romdev, false);
    assert_false(memory_region_is_romd(&romdev));
    assert_false(m.as.current_map->ranges[1].romd_mode);
    flat = dump(mtree_print_flatview, &m.as);
    assert_non_null(strstr(flat, "(prio 0, i/o): flash"));
    free(flat);
    MemoryRegion *subs[] = { &ro, &ram, &romdev };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(memory_region_del_subregion(&m.root, subs[i], NULL), 0);
        memory_region_finalize(subs[i]);
    }
    test_machine_fini(&m);
}

/* Out of memory for its name, a region is anonymous, not a crash (this binary is
 * linked for test_oom_arm). */
static void name_copy_failure_leaves_an_anonymous_region(void **state)
{
    MemoryRegion mr;
    test_oom_arm(0, false);             /* the first allocation: the name's copy */
    memory_region_init_io(&mr, NULL, NULL, NULL, "doomed-name", 0x1000);
    test_oom_disarm();
    assert_null(mr.name);
    assert_string_equal(memory_region_name(&mr), "(anonymous)");
    assert_int_equal(memory_region_size(&mr), 0x1000);
    memory_region_finalize(&mr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_sets_defaults),
        cmocka_unit_test(canonical_paths_count_and_escape),
        cmocka_unit_test(properties_by_name),
        cmocka_unit_test(add_twice_and_delete_stranger_fail),
        cmocka_unit_test(containment_and_alias_cycles_fail),
        cmocka_unit_test(non_overlapping_collision_is_warned),
        cmocka_unit_test(eventfd_declaration_errors),
        cmocka_unit_test(misuse_stops_with_region_name),
        cmocka_unit_test(render_priorities_and_later_added),
        cmocka_unit_test(render_aliases_with_offset_and_clipping),
        cmocka_unit_test(render_disabled_and_transparent_containers),
        cmocka_unit_test(render_merges_contiguous_pieces_only),
        cmocka_unit_test(render_full_2_64_and_last_page),
        cmocka_unit_test(flatview_ref_keeps_old_view),
        cmocka_unit_test(transactions_nest_and_touch_only_changed_spaces),
        cmocka_unit_test(alias_target_edits_touch_only_spaces_showing_them),
        cmocka_unit_test(many_spans_fall_back_to_one_full_render),
        cmocka_unit_test(finalize_removes_children),
        cmocka_unit_test(destroy_announces_removal),
        cmocka_unit_test(mtree_dumps_tree_and_flat_view),
        cmocka_unit_test(io_without_ops_answers_unassigned),
        cmocka_unit_test(ram_rom_and_romd_kinds),
        cmocka_unit_test(name_copy_failure_leaves_an_anonymous_region),
    };
    return cmocka_run_group_tests_name("memory_region", tests, NULL, NULL);
}
