/* Stream filters and pipelines.
 *
 * A filter transforms a byte stream in the shape of zstd's streaming API: it
 * consumes from an input span and produces into an output span, each call
 * advancing in->pos and out->pos.  Memory is bounded: a filter never needs
 * more output room than the caller gives it; when the output is full it
 * returns and is called again.
 *
 * A pipeline chains filters.  It is driven in one of two modes:
 *   - push (writing):  gd_pipe_write() / gd_pipe_finish() push bytes through
 *     every filter into a sink callback (e.g. a storage writer);
 *   - pull (reading):  gd_pipe_read() pulls bytes from a source callback (e.g.
 *     a storage reader) through every filter.
 * The same filters serve both.  Each stage owns a fixed output buffer
 * (GD_PIPE_BUF bytes), so a pipeline's memory does not depend on data size.
 *
 * Thread-safety: a pipeline and its filters belong to one thread at a time.
 */
#ifndef GD_IO_FILTER_H
#define GD_IO_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define GD_PIPE_BUF (128 * 1024)

typedef struct gd_span_in {
    const uint8_t *src;
    size_t size;
    size_t pos;
} gd_span_in;

typedef struct gd_span_out {
    uint8_t *dst;
    size_t size;
    size_t pos;
} gd_span_out;

typedef struct gd_filter gd_filter;

typedef struct gd_filter_ops {
    const char *name;
    /* Consumes from in and produces into out.  When end is true the input
     * is complete (in holds the last bytes, possibly none): the filter must
     * flush everything it holds and set *done once it has produced its last
     * byte.  When end is false *done is left false.  Called repeatedly
     * while it makes progress.  Returns 0 or a negative gd_code with err set
     * (GD_E_CORRUPT for malformed input, GD_E_AUTH for failed
     * authentication).  A call that consumed all of in and left room in out
     * has produced everything it can until more input (or the end) comes. */
    int (*process)(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end, bool *done,
                   gd_err *err);
    /* Releases everything the filter owns, f itself included. */
    void (*free)(gd_filter *f);
} gd_filter_ops;

struct gd_filter {
    const gd_filter_ops *ops;
    void *self;
};

static inline int gd_filter_process(gd_filter *f, gd_span_in *in, gd_span_out *out, bool end,
                                    bool *done, gd_err *err)
{
    return f->ops->process(f, in, out, end, done, err);
}

void gd_filter_free(gd_filter *f); /* NULL is allowed */

/* ---- the filters ------------------------------------------------------ */

/* zstd compression at a level (1..19; 0 means 3; others are clamped to
 * 1..19).  Frames carry a content checksum; an empty stream is one empty
 * frame.  Uses nb_workers = 0 (threads are the caller's business). */
gd_filter *gd_filter_zstd_compress(int level);
/* zstd decompression; several concatenated frames are accepted.  Truncated
 * or empty input at end fails with GD_E_CORRUPT "truncated compressed data";
 * malformed input with GD_E_CORRUPT naming zstd's error. */
gd_filter *gd_filter_zstd_decompress(void);

/* AES-256-GCM in independently authenticated chunks; the stream format is in
 * docs/repository-format.md ("Encrypted object").  key is 32 bytes; key_id
 * is 8 bytes written into the header and checked on decrypt (a different
 * key fails with GD_E_AUTH "was encrypted with another key").  name (the
 * object's name relative to the region root) is bound into every chunk's
 * associated data: decrypting under another name fails with GD_E_AUTH.
 * Truncation, reordering, and any modified byte fail with GD_E_AUTH or
 * GD_E_CORRUPT.  The encrypter writes format 2 objects; the decrypter
 * accepts format 1 objects (no name bound) only when allow_v1, else they
 * fail with GD_E_AUTH. */
#define GD_KEY_LEN 32
#define GD_KEY_ID_LEN 8
gd_filter *gd_filter_encrypt(const uint8_t key[GD_KEY_LEN], const uint8_t key_id[GD_KEY_ID_LEN],
                             const char *name);
gd_filter *gd_filter_decrypt(const uint8_t key[GD_KEY_LEN], const uint8_t key_id[GD_KEY_ID_LEN],
                             const char *name, bool allow_v1);

/* Pass-through SHA-256 of all bytes seen.  gd_filter_sha256_hex() is valid
 * after the stream ended (done), writes 65 bytes. */
gd_filter *gd_filter_sha256(void);
void gd_filter_sha256_hex(gd_filter *f, char out[65]);

/* Pass-through counter of bytes seen. */
gd_filter *gd_filter_count(void);
uint64_t gd_filter_count_bytes(gd_filter *f);

/* ---- pipeline ----------------------------------------------------------- */

/* Sink for push mode: must take all n bytes or fail. */
typedef int (*gd_sink_fn)(void *ctx, const void *p, size_t n, gd_err *err);
/* Source for pull mode: returns bytes read (0 at end of data) or a negative
 * gd_code. */
typedef ssize_t (*gd_source_fn)(void *ctx, void *p, size_t n, gd_err *err);

typedef struct gd_pipe gd_pipe;

gd_pipe *gd_pipe_new(void);
/* Appends a filter (the pipe owns it from now on, even on failure). */
void gd_pipe_add(gd_pipe *p, gd_filter *f);
void gd_pipe_free(gd_pipe *p);

/* Push mode. */
void gd_pipe_set_sink(gd_pipe *p, gd_sink_fn fn, void *ctx);
int gd_pipe_write(gd_pipe *p, const void *data, size_t n, gd_err *err);
/* Ends the stream: flushes every filter into the sink. */
int gd_pipe_finish(gd_pipe *p, gd_err *err);

/* Pull mode.  Returns bytes (0 at end, after every filter is done) or a
 * negative gd_code. */
void gd_pipe_set_source(gd_pipe *p, gd_source_fn fn, void *ctx);
ssize_t gd_pipe_read(gd_pipe *p, void *buf, size_t n, gd_err *err);

#endif
