/* Unit tests for command/export_sql: the literal of every kind of value and
 * the chunks' rows (LOAD DATA's escaping) as INSERT statements, fed in any
 * cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "command/export_sql.h"
#include "common/util.h"

static char *value(const char *p, size_t n, bool null, gd_mf_form form)
{
    gd_buf b;
    gd_buf_init(&b, 0);
    if (!gd_export_sql_value(&b, p, n, null, form)) {
        gd_buf_free(&b);
        return NULL;
    }
    gd_buf_append(&b, "", 1);
    return b.data;
}

#define VALUE_IS(want, p, n, null, form)                                                           \
    do {                                                                                           \
        char *got_ = value(p, n, null, form);                                                      \
        assert_non_null(got_);                                                                     \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

static void test_values(void **state)
{
    (void)state;
    VALUE_IS("NULL", "", 0, true, GD_MF_FORM_TEXT);
    VALUE_IS("''", "", 0, false, GD_MF_FORM_TEXT);
    VALUE_IS("'12.5'", "12.5", 4, false, GD_MF_FORM_TEXT);
    VALUE_IS("'a\\'b\\\\c\\n\\r\\t'", "a'b\\c\n\r\t", 8, false, GD_MF_FORM_TEXT);
    VALUE_IS("_binary'Z\xc3\xbcrich \xf0\x9f\x98\x80'", "Z\xc3\xbcrich \xf0\x9f\x98\x80", 12, false,
             GD_MF_FORM_TEXT);
    VALUE_IS("X'00FF0A'", "\0\xff\n", 3, false, GD_MF_FORM_TEXT);     /* NUL, not UTF-8 */
    VALUE_IS("X'C3'", "\xc3", 1, false, GD_MF_FORM_TEXT);             /* cut sequence */
    VALUE_IS("X'EDA080'", "\xed\xa0\x80", 3, false, GD_MF_FORM_TEXT); /* a surrogate */
    VALUE_IS("X'C0AF'", "\xc0\xaf", 2, false, GD_MF_FORM_TEXT);       /* overlong '/' */
    VALUE_IS("X'1A'", "\x1a", 1, false, GD_MF_FORM_TEXT);
    VALUE_IS("X'3A3A31'", "::1", 3, false, GD_MF_FORM_BINARY); /* binary forms: always hex */
    VALUE_IS("X''", "", 0, false, GD_MF_FORM_BINARY);
    VALUE_IS("3", "3", 1, false, GD_MF_FORM_INDEX);
    VALUE_IS("0", "0", 1, false, GD_MF_FORM_INDEX);
    VALUE_IS("NULL", "", 0, true, GD_MF_FORM_INDEX);
    assert_null(value("x", 1, false, GD_MF_FORM_INDEX));
    assert_null(value("", 0, false, GD_MF_FORM_INDEX));
}

typedef struct sink {
    gd_buf out;
    int calls;
} sink;

static int collect(void *ctx, const char *p, size_t n, gd_err *err)
{
    (void)err;
    sink *s = ctx;
    s->calls++;
    return gd_buf_append(&s->out, p, n);
}

static gd_mf_column cols[] = {
    {"id", GD_MF_FORM_TEXT}, {"b", GD_MF_FORM_TEXT}, {"e", GD_MF_FORM_INDEX}};
static gd_mf_object chunk = {.object = "data/0-0.tsv.zst", .rows = 3};
static gd_mf_table table = {.db = "d", .name = "t`x", .columns = cols, .ncolumns = 3};

/* rows: "1 | NULL | 2", "2 | '\N' as text (escaped backslash + N) | 1",
 * "3 | tab, newline, NUL, backslash | 0" */
static const char rows[] = "1\t\\N\t2\n"
                           "2\t\\\\N\t1\n"
                           "3\ta\\tb\\nc\\0d\\\\\t0\n";

static void run_feed(size_t cut, const char *want, size_t max_stmt)
{
    sink s = {0};
    gd_buf_init(&s.out, 0);
    gd_err err;
    gd_err_clear(&err);
    gd_export_inserts *ins = gd_export_inserts_new(&table, max_stmt, collect, &s);
    gd_export_inserts_begin(ins, &chunk);
    size_t n = sizeof rows - 1;
    for (size_t i = 0; i < n; i += cut) {
        size_t k = i + cut > n ? n - i : cut;
        assert_int_equal(gd_export_inserts_feed(ins, rows + i, k, &err), 0);
    }
    assert_int_equal(gd_export_inserts_end(ins, &err), 0);
    assert_int_equal(gd_export_inserts_finish(ins, &err), 0);
    assert_int_equal(gd_export_inserts_rows(ins), 3);
    gd_buf_append(&s.out, "", 1);
    assert_string_equal(s.out.data, want);
    gd_export_inserts_free(ins);
    gd_buf_free(&s.out);
}

static void test_inserts(void **state)
{
    (void)state;
    const char *want = "INSERT INTO `d`.`t``x` (`id`,`b`,`e`) VALUES\n"
                       "('1',NULL,2),\n"
                       "('2','\\\\N',1),\n"
                       "('3',X'6109620A6300645C',0);\n";
    for (size_t cut = 1; cut <= sizeof rows; cut++)
        run_feed(cut, want, 1 << 20);
    /* a statement per row when the limit is small */
    run_feed(7,
             "INSERT INTO `d`.`t``x` (`id`,`b`,`e`) VALUES\n('1',NULL,2);\n"
             "INSERT INTO `d`.`t``x` (`id`,`b`,`e`) VALUES\n('2','\\\\N',1);\n"
             "INSERT INTO `d`.`t``x` (`id`,`b`,`e`) VALUES\n('3',X'6109620A6300645C',0);\n",
             1);
}

static int feed_all(const char *p, uint64_t nrows, gd_err *err)
{
    sink s = {0};
    gd_buf_init(&s.out, 0);
    gd_mf_object ch = {.object = "data/0-1.tsv.zst", .rows = nrows};
    gd_export_inserts *ins = gd_export_inserts_new(&table, 1 << 20, collect, &s);
    gd_export_inserts_begin(ins, &ch);
    int rc = gd_export_inserts_feed(ins, p, strlen(p), err);
    if (rc == 0)
        rc = gd_export_inserts_end(ins, err);
    gd_export_inserts_free(ins);
    gd_buf_free(&s.out);
    return rc;
}

static void test_corrupt_rows(void **state)
{
    (void)state;
    static const struct {
        const char *rows;
        uint64_t n;
        const char *msg;
    } bad[] = {
        {"1\t2\n", 1, "fewer fields"},
        {"1\t2\t3\t4\n", 1, "more fields"},
        {"1\t2\tx\n", 1, "not a number"},
        {"1\t2\t3", 1, "ends inside a row"},
        {"1\t2\t3\\", 1, "ends inside a row"},
        {"1\t2\t3\n", 2, "holds 1 rows, the manifest says 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gd_err err;
        gd_err_clear(&err);
        assert_int_equal(feed_all(bad[i].rows, bad[i].n, &err), GD_E_CORRUPT);
        assert_non_null(strstr(err.msg, bad[i].msg));
        assert_non_null(strstr(err.msg, "data/0-1.tsv.zst"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_inserts),
        cmocka_unit_test(test_corrupt_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
