/* Allocator hooks, the arena, span copies. */
#include "testutil.h"

#include "core/internal.h"

static void hooks_receive_sizes(void **state)
{
    (void)state;
    test_alloc a;
    mailproto_mem m = test_mem(&a);
    void *p = mailproto__alloc(&m, 100);
    assert_non_null(p);
    assert_int_equal(a.live, 100);
    p = mailproto__realloc(&m, p, 100, 300);
    assert_non_null(p);
    assert_int_equal(a.live, 300);
    mailproto__free(&m, p, 300);
    assert_int_equal(a.live, 0);
    assert_int_equal(a.size_errors, 0);
    assert_null(mailproto__calloc(&m, SIZE_MAX / 2, 4)); /* overflow refused */
    /* realloc missing from the hooks: alloc + copy + free */
    mailproto_mem m2 = m;
    m2.realloc = NULL;
    char *s = mailproto__alloc(&m2, 4);
    memcpy(s, "abc", 4);
    s = mailproto__realloc(&m2, s, 4, 64);
    assert_string_equal(s, "abc");
    mailproto__free(&m2, s, 64);
    assert_int_equal(a.live, 0);
    assert_int_equal(a.size_errors, 0);
}

static void failing_allocator(void **state)
{
    (void)state;
    test_alloc a;
    mailproto_mem m = test_mem(&a);
    a.fail_at = 1;
    char *out = (char *)1;
    mailproto_span sp = {"hello", 5};
    assert_int_equal(mailproto_span_dup(&m, sp, &out), MAILPROTO_E_NOMEM);
    assert_null(out);
    assert_int_equal(mailproto_span_dup(&m, sp, &out), MAILPROTO_OK);
    assert_string_equal(out, "hello");
    mailproto_span_free(&m, out, sp.len);
    assert_int_equal(a.live, 0);
    assert_int_equal(a.size_errors, 0);
    mailproto_span bad = {NULL, 3};
    assert_int_equal(mailproto_span_dup(&m, bad, &out), MAILPROTO_E_INVALID);
}

static void arena_bump_and_reuse(void **state)
{
    (void)state;
    _Alignas(16) unsigned char buf[256];
    mailproto_arena ar;
    mailproto_mem m;
    assert_int_equal(mailproto_arena_init(&ar, buf, sizeof buf, &m), MAILPROTO_OK);
    unsigned char *p1 = mailproto__alloc(&m, 10);
    unsigned char *p2 = mailproto__alloc(&m, 10);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_true(p2 >= p1 + 10);
    assert_int_equal((uintptr_t)p2 % _Alignof(max_align_t), 0);
    /* the last block grows in place */
    unsigned char *p3 = mailproto__realloc(&m, p2, 10, 50);
    assert_ptr_equal(p3, p2);
    /* freeing the last block gives its memory back */
    size_t used = ar.used;
    mailproto__free(&m, p3, 50);
    assert_true(ar.used < used);
    /* out of space is NULL, never overflow */
    assert_null(mailproto__alloc(&m, 1000));
    assert_null(mailproto__alloc(&m, SIZE_MAX));
    size_t peak = mailproto_arena_peak(&ar);
    assert_true(peak >= 60 && peak <= sizeof buf);
    mailproto_arena_reset(&ar);
    assert_int_equal(ar.used, 0);
    assert_ptr_equal(mailproto__alloc(&m, 8), buf + 0);
    assert_int_equal(mailproto_arena_init(NULL, buf, 1, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_arena_peak(NULL), 0);
}

static void strdup_and_null(void **state)
{
    (void)state;
    test_alloc a;
    mailproto_mem m = test_mem(&a);
    char *s;
    assert_int_equal(mailproto__strdup(&m, NULL, &s), MAILPROTO_OK);
    assert_null(s);
    assert_int_equal(mailproto__strdup(&m, "imap.example.org", &s), MAILPROTO_OK);
    assert_string_equal(s, "imap.example.org");
    mailproto__strfree(&m, s);
    assert_int_equal(a.live, 0);
    assert_int_equal(a.size_errors, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hooks_receive_sizes),
        cmocka_unit_test(failing_allocator),
        cmocka_unit_test(arena_bump_and_reuse),
        cmocka_unit_test(strdup_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
