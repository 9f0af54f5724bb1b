/* Unit tests of the restore engine's pure parts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "restore/restore.h"

static void defer_plain_keys(void **state)
{
    (void)state;
    const char *create = "CREATE TABLE `t` (\n"
                         "  `id` int(11) NOT NULL,\n"
                         "  `k` int(11) NOT NULL,\n"
                         "  `u` int(11) DEFAULT NULL,\n"
                         "  PRIMARY KEY (`id`),\n"
                         "  UNIQUE KEY `u` (`u`),\n"
                         "  KEY `k` (`k`),\n"
                         "  KEY `ku` (`k`,`u`(3)) COMMENT 'x, y'\n"
                         ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
    char *without = NULL, *keys = NULL;
    assert_int_equal(gd_restore_defer_keys(create, &without, &keys), 0);
    assert_string_equal(without, "CREATE TABLE `t` (\n"
                                 "  `id` int(11) NOT NULL,\n"
                                 "  `k` int(11) NOT NULL,\n"
                                 "  `u` int(11) DEFAULT NULL,\n"
                                 "  PRIMARY KEY (`id`),\n"
                                 "  UNIQUE KEY `u` (`u`)\n"
                                 ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    assert_string_equal(keys, "ADD KEY `k` (`k`), ADD KEY `ku` (`k`,`u`(3)) COMMENT 'x, y'");
    free(without);
    free(keys);
}

static void nothing_to_defer(void **state)
{
    (void)state;
    char *without = (char *)1, *keys = (char *)1;
    /* no secondary key */
    assert_int_equal(gd_restore_defer_keys("CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n"
                                           "  PRIMARY KEY (`id`)\n) ENGINE=InnoDB",
                                           &without, &keys),
                     GD_E_STATE);
    assert_null(without);
    assert_null(keys);
    /* foreign keys need their index */
    assert_int_equal(gd_restore_defer_keys("CREATE TABLE `c` (\n  `id` int(11) NOT NULL,\n"
                                           "  `p` int(11) NOT NULL,\n  KEY `p` (`p`),\n"
                                           "  CONSTRAINT `f` FOREIGN KEY (`p`) REFERENCES "
                                           "`p` (`id`)\n) ENGINE=InnoDB",
                                           &without, &keys),
                     GD_E_STATE);
    /* an unexpected layout is left alone */
    assert_int_equal(
        gd_restore_defer_keys("CREATE TABLE `t` (`id` int, KEY `k` (`id`))", &without, &keys),
        GD_E_STATE);
    assert_int_equal(gd_restore_defer_keys("CREATE TABLE `t` (\n  `g` int AS (1 +\n2),\n"
                                           "  KEY `k` (`g`)\n) ENGINE=InnoDB",
                                           &without, &keys),
                     GD_E_STATE);
    /* only keys: the table must keep a column definition */
    assert_int_equal(
        gd_restore_defer_keys("CREATE TABLE `t` (\n  KEY `k` (`g`)\n)", &without, &keys),
        GD_E_STATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defer_plain_keys),
        cmocka_unit_test(nothing_to_defer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
