/* Memory sources, rewinding, callback error mapping, the clock. */
#include "testutil.h"

#include "core/internal.h"

static void memory_source_reads_and_rewinds(void **state)
{
    (void)state;
    mailproto_source s;
    const char msg[] = "Subject: hi\r\n\r\nbody\r\n";
    assert_int_equal(mailproto_source_mem(&s, msg, sizeof msg - 1), MAILPROTO_OK);
    assert_int_equal(s.size, sizeof msg - 1);
    char buf[8], all[64];
    size_t got, total = 0;
    do {
        assert_int_equal(mailproto_source_read(&s, buf, sizeof buf, &got), MAILPROTO_OK);
        memcpy(all + total, buf, got);
        total += got;
    } while (got);
    assert_int_equal(total, sizeof msg - 1);
    assert_memory_equal(all, msg, total);
    assert_int_equal(mailproto_source_rewind(&s), MAILPROTO_OK);
    assert_int_equal(mailproto_source_read(&s, buf, 4, &got), MAILPROTO_OK);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "Subj", 4);
    assert_int_equal(mailproto_source_mem(NULL, msg, 1), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_source_mem(&s, NULL, 0), MAILPROTO_OK);
    assert_int_equal(mailproto_source_read(&s, buf, sizeof buf, &got), MAILPROTO_OK);
    assert_int_equal(got, 0);
}

static int overrun_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    (void)ctx, (void)buf;
    *got = cap + 1;
    return MAILPROTO_OK;
}

static int own_error_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    (void)ctx, (void)buf, (void)cap;
    *got = 0;
    return -1000;
}

static int again_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    (void)ctx, (void)buf, (void)cap;
    *got = 3;
    return MAILPROTO_AGAIN;
}

static void callback_errors_are_mapped(void **state)
{
    (void)state;
    char buf[4];
    size_t got = 99;
    mailproto_source s = {overrun_read, NULL, NULL, MAILPROTO_SIZE_UNKNOWN, NULL, 0, 0};
    assert_int_equal(mailproto_source_read(&s, buf, sizeof buf, &got), MAILPROTO_E_CALLBACK);
    assert_int_equal(mailproto_source_rewind(&s), MAILPROTO_E_UNSUPPORTED);
    s.read = own_error_read;
    assert_int_equal(mailproto_source_read(&s, buf, sizeof buf, &got), MAILPROTO_E_CALLBACK);
    s.read = again_read;
    assert_int_equal(mailproto_source_read(&s, buf, sizeof buf, &got), MAILPROTO_AGAIN);
    assert_int_equal(got, 0);
    assert_int_equal(mailproto_source_read(NULL, buf, 1, &got), MAILPROTO_E_INVALID);
}

static void clock_is_monotonic(void **state)
{
    (void)state;
    uint64_t a = mailproto_clock_monotonic_ms(NULL);
    uint64_t b = mailproto_clock_monotonic_ms(NULL);
#if MAILPROTO_HAS_SOCKETS
    assert_true(a > 0);
#endif
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memory_source_reads_and_rewinds),
        cmocka_unit_test(callback_errors_are_mapped),
        cmocka_unit_test(clock_is_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
