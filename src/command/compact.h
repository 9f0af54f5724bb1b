/* compact: one compaction pass over the binlog archive of an instance's
 * home region (archive/compact.h; geodr archive runs it by itself). */
#ifndef GD_COMMAND_COMPACT_H
#define GD_COMMAND_COMPACT_H

#include "archive/compact.h"
#include "command/command.h"

int gd_command_compact(const gd_command_ctx *ctx, const char *instance, const gd_compact_opts *co,
                       gd_compact_stats *st, gd_err *err);

#endif
