/* Unit tests of the binlog event reader and GTID positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "common/gtid.h"
#include "mysql/binlog.h"

/* Builds an event: header, body, CRC32 trailer. */
static size_t mkev(uint8_t *out, uint8_t type, uint32_t server, uint32_t ts, const void *body,
                   size_t blen)
{
    size_t size = GD_EV_HEADER_LEN + blen + 4;
    memset(out, 0, GD_EV_HEADER_LEN);
    for (int i = 0; i < 4; i++) {
        out[i] = (uint8_t)(ts >> (8 * i));
        out[5 + i] = (uint8_t)(server >> (8 * i));
        out[9 + i] = (uint8_t)(size >> (8 * i));
    }
    out[4] = type;
    memcpy(out + GD_EV_HEADER_LEN, body, blen);
    gd_event_set_crc(out, size, 1);
    return size;
}

static size_t mk_gtid(uint8_t *out, uint32_t domain, uint32_t server, uint64_t seq, uint8_t flags)
{
    uint8_t b[13];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(seq >> (8 * i));
    for (int i = 0; i < 4; i++)
        b[8 + i] = (uint8_t)(domain >> (8 * i));
    b[12] = flags;
    return mkev(out, GD_EV_GTID, server, 1000, b, sizeof b);
}

static size_t mk_query(uint8_t *out, const char *q, uint32_t ts)
{
    uint8_t b[256] = {0};
    /* thread id 4, exec time 4, db len 1 (=4), error 2, status len 2 (=0) */
    b[8] = 4;
    memcpy(b + 13, "shop", 5); /* db + NUL */
    size_t ql = strlen(q);
    memcpy(b + 18, q, ql);
    return mkev(out, GD_EV_QUERY, 7, ts, b, 18 + ql);
}

static size_t mk_fde(uint8_t *out, uint8_t alg)
{
    uint8_t b[100] = {0};
    b[0] = 4;
    memcpy(b + 2, "10.11.19-MariaDB", 16);
    b[56] = 19;
    b[sizeof b - 1] = alg; /* the algorithm byte comes right before the CRC */
    return mkev(out, GD_EV_FORMAT_DESCRIPTION, 7, 1000, b, sizeof b);
}

static void feed(gd_group *g, const uint8_t *p, size_t n, bool *ended)
{
    gd_event ev;
    assert_int_equal(gd_event_parse(p, n, &ev, NULL), 0);
    assert_int_equal(gd_group_feed(g, &ev, ended, NULL), 0);
}

static void groups(void **state)
{
    (void)state;
    uint8_t e[512];
    size_t n;
    bool ended;
    gd_group g;
    gd_group_init(&g);
    n = mk_fde(e, 1);
    feed(&g, e, n, &ended);
    assert_int_equal(g.checksum_alg, 1);

    /* a row transaction ends at its XID */
    n = mk_gtid(e, 0, 7, 42, 0);
    feed(&g, e, n, &ended);
    assert_false(ended);
    assert_true(g.open);
    assert_int_equal(g.gtid.seq, 42);
    assert_int_equal(g.gtid.server, 7);
    n = mkev(e, 19, 7, 1000, "table map", 9);
    feed(&g, e, n, &ended);
    assert_false(ended);
    n = mkev(e, GD_EV_XID, 7, 1234, "12345678", 8);
    feed(&g, e, n, &ended);
    assert_true(ended);
    assert_int_equal(g.end_timestamp, 1234);

    /* a DDL statement: standalone GTID, one query */
    n = mk_gtid(e, 1, 7, 5, GD_GTID_FL_STANDALONE);
    feed(&g, e, n, &ended);
    n = mk_query(e, "CREATE TABLE t (a INT)", 1300);
    feed(&g, e, n, &ended);
    assert_true(ended);
    assert_int_equal(g.gtid.domain, 1);

    /* a non-transactional change: BEGIN ... COMMIT */
    n = mk_gtid(e, 0, 7, 43, 0);
    feed(&g, e, n, &ended);
    n = mk_query(e, "BEGIN", 1400);
    feed(&g, e, n, &ended);
    assert_false(ended);
    n = mk_query(e, "COMMIT", 1401);
    feed(&g, e, n, &ended);
    assert_true(ended);

    /* a GTID while a transaction is open is refused */
    n = mk_gtid(e, 0, 7, 44, 0);
    feed(&g, e, n, &ended);
    gd_event ev;
    n = mk_gtid(e, 0, 7, 45, 0);
    assert_int_equal(gd_event_parse(e, n, &ev, NULL), 0);
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_group_feed(&g, &ev, &ended, &err), GD_E_CORRUPT);
    assert_non_null(strstr(err.msg, "0-7-44"));
}

static void framing(void **state)
{
    (void)state;
    uint8_t e[128];
    size_t n = mk_query(e, "COMMIT", 1);
    gd_event ev;
    assert_int_equal(gd_event_parse(e, n, &ev, NULL), 0);
    assert_int_equal(ev.size, n);
    assert_int_equal(gd_event_parse(e, n - 1, &ev, NULL), GD_E_CORRUPT); /* cut */
    assert_int_equal(gd_event_parse(e, 10, &ev, NULL), GD_E_CORRUPT);    /* no header */
    /* the CRC is zlib's CRC32 of everything before it, little-endian */
    uLong c = crc32(0L, e, (uInt)(n - 4));
    assert_int_equal(e[n - 4] | e[n - 3] << 8 | e[n - 2] << 16 | (uint32_t)e[n - 1] << 24,
                     (uint32_t)c);
    uint8_t alg = 9;
    n = mk_fde(e, 1);
    assert_int_equal(gd_event_parse(e, n, &ev, NULL), 0);
    assert_int_equal(gd_event_fde_checksum(&ev, &alg, NULL), 0);
    assert_int_equal(alg, 1);
}

static void gtid_positions(void **state)
{
    (void)state;
    gd_gtid_pos p, q;
    char s[256];
    assert_int_equal(gd_gtid_pos_parse("1-2-7, 0-1-100", &p, NULL), 0);
    gd_gtid_pos_format(&p, s, sizeof s);
    assert_string_equal(s, "0-1-100,1-2-7");
    assert_int_equal(gd_gtid_pos_parse("", &q, NULL), 0);
    assert_int_equal(q.n, 0);
    assert_true(gd_gtid_pos_le(&q, &p)); /* empty is before everything */
    gd_gtid g = {0, 3, 101};
    assert_false(gd_gtid_pos_contains(&p, &g));
    assert_int_equal(gd_gtid_pos_update(&p, &g, NULL), 0);
    assert_true(gd_gtid_pos_contains(&p, &g));
    gd_gtid_pos_format(&p, s, sizeof s);
    assert_string_equal(s, "0-3-101,1-2-7");
    assert_int_equal(gd_gtid_pos_parse("0-1-100", &q, NULL), 0);
    assert_true(gd_gtid_pos_le(&q, &p));
    assert_false(gd_gtid_pos_le(&p, &q)); /* p has domain 1, q does not */
    gd_err err;
    gd_err_clear(&err);
    assert_int_equal(gd_gtid_pos_parse("0-1", &q, &err), GD_E_INVALID);
    assert_non_null(strstr(err.msg, "domain-server-sequence"));
    assert_int_equal(gd_gtid_pos_parse("a-b-c", &q, NULL), GD_E_INVALID);
    assert_int_equal(gd_gtid_pos_parse("0-1-2x", &q, NULL), GD_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(groups),
        cmocka_unit_test(framing),
        cmocka_unit_test(gtid_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
