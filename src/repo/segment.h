/* Reading an archived binlog segment back, event by event (the archiver's
 * compaction and the binlog server both read segments through this).  The
 * stored bytes are hashed while reading and checked against the index
 * record at the end. */
#ifndef GD_REPO_SEGMENT_H
#define GD_REPO_SEGMENT_H

#include <jansson.h>

#include "common/error.h"
#include "mysql/binlog.h"
#include "repo/repo.h"

typedef struct gd_seg_reader gd_seg_reader;

/* Opens the segment an index record names and reads its magic and format
 * description event (available as *fde until the reader is closed). */
int gd_seg_open(gd_repo *r, json_t *record, gd_seg_reader **out, gd_event *fde, gd_err *err);
/* The next event: 1 with *ev filled (valid until the next call), 0 at the
 * verified end, or a negative gd_code naming the segment. */
int gd_seg_next(gd_seg_reader *rd, gd_event *ev, gd_err *err);
void gd_seg_close(gd_seg_reader *rd);

#endif
