/* cat: one stored object of an instance, decoded (decrypted, decompressed),
 * handed to a writer (geodr cat writes it to standard output). */
#ifndef GD_COMMAND_CAT_H
#define GD_COMMAND_CAT_H

#include <stddef.h>

#include "command/command.h"
#include "common/error.h"

/* Takes n bytes of the object; returns 0 or an error code set in err. */
typedef int (*gd_cat_writer)(void *wctx, const void *buf, size_t n, gd_err *err);

/* object is relative to the instance ("binlog/000000000001.binlog.zst.gde");
 * region NULL: the home region. */
int gd_command_cat(const gd_command_ctx *ctx, const char *instance, const char *region,
                   const char *object, gd_cat_writer write, void *wctx, gd_err *err);

#endif
