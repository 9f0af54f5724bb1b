/* The INI reader.  Deliberately small: no quoting, no escapes, no
 * continuation lines, no includes.  Every line is either blank, a comment, a
 * "[section]" header or "key = value"; anything else is an error with its
 * line number, so a typo never turns into a silently ignored setting. */
#include "common/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Trims [*b, *e) in place (pointers move). */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

/* End of the meaningful part of a line: a '#' or ';' at its start or after
 * whitespace begins a comment. */
static const char *strip_comment(const char *b, const char *e)
{
    for (const char *p = b; p < e; p++) {
        if ((*p == '#' || *p == ';') && (p == b || is_space(p[-1])))
            return p;
    }
    return e;
}

static int syntax_error(gd_err *err, const char *origin, int line, const char *what)
{
    if (origin != NULL)
        return gd_err_set(err, GD_E_CONFIG, "%s:%d: %s", origin, line, what);
    return gd_err_set(err, GD_E_CONFIG, "line %d: %s", line, what);
}

int gd_ini_parse_named(const char *text, const char *origin, gd_ini_fn fn, void *ctx, gd_err *err)
{
    char *section = gd_strdup("");
    char *key = NULL, *value = NULL;
    int rc = 0;
    int line = 0;
    const char *p = text;

    /* A UTF-8 byte order mark written by some editors is not content. */
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;

    while (*p != '\0') {
        line++;
        const char *nl = strchr(p, '\n');
        const char *le = nl ? nl : p + strlen(p);
        const char *next = nl ? nl + 1 : le;
        const char *b = p, *e = le;
        p = next;

        trim(&b, &e);
        if (b == e || *b == '#' || *b == ';')
            continue;

        if (*b == '[') {
            const char *close = memchr(b, ']', (size_t)(e - b));
            if (close == NULL) {
                rc = syntax_error(err, origin, line,
                                  "section header has no closing ']': write '[section]'");
                goto out;
            }
            const char *rest = close + 1, *rest_e = e;
            trim(&rest, &rest_e);
            if (rest != rest_e && *rest != '#' && *rest != ';') {
                rc = syntax_error(err, origin, line,
                                  "unexpected text after ']': write '[section]' alone on the line");
                goto out;
            }
            const char *sb = b + 1, *se = close;
            trim(&sb, &se);
            if (sb == se) {
                rc = syntax_error(err, origin, line, "empty section name '[]'");
                goto out;
            }
            /* Collapse runs of whitespace so "[region   home]" is "region home". */
            gd_buf sec;
            gd_buf_init(&sec, 0);
            for (const char *q = sb; q < se; q++) {
                if (is_space(*q)) {
                    if (!is_space(q[-1]))
                        gd_buf_append(&sec, " ", 1);
                } else {
                    gd_buf_append(&sec, q, 1);
                }
            }
            free(section);
            section = sec.data;
            rc = fn(ctx, section, NULL, NULL, line, err);
            if (rc != 0)
                goto out;
            continue;
        }

        const char *eq = memchr(b, '=', (size_t)(e - b));
        if (eq == NULL) {
            rc = syntax_error(err, origin, line, "expected 'key = value' or '[section]'");
            goto out;
        }
        const char *kb = b, *ke = eq;
        trim(&kb, &ke);
        if (kb == ke) {
            rc = syntax_error(err, origin, line,
                              "expected 'key = value' or '[section]' (the key is missing)");
            goto out;
        }
        for (const char *q = kb; q < ke; q++) {
            if (is_space(*q) || *q == '[' || *q == ']') {
                rc = syntax_error(err, origin, line,
                                  "expected 'key = value' or '[section]' (a key is one word, "
                                  "like retention-days)");
                goto out;
            }
        }
        const char *vb = eq + 1, *ve = e;
        ve = strip_comment(vb, ve);
        trim(&vb, &ve);

        free(key);
        free(value);
        key = gd_strndup(kb, (size_t)(ke - kb));
        value = gd_strndup(vb, (size_t)(ve - vb));
        rc = fn(ctx, section, key, value, line, err);
        if (rc != 0)
            goto out;
    }

out:
    free(section);
    free(key);
    if (value != NULL) {
        /* Values may be secrets in other users of this reader. */
        explicit_bzero(value, strlen(value));
        free(value);
    }
    return rc;
}

int gd_ini_parse(const char *text, gd_ini_fn fn, void *ctx, gd_err *err)
{
    return gd_ini_parse_named(text, NULL, fn, ctx, err);
}
