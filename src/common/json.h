/* Reading JSON documents that geodr builds itself (reports, the info
 * document, a set's schema object) without a check at every field: a
 * missing or mistyped field reads as the default.  Records read from a
 * region are not read this way: they are decoded and checked once in
 * src/repo (repo/manifest.h, repo/segment.h). */
#ifndef GD_COMMON_JSON_H
#define GD_COMMON_JSON_H

#include <jansson.h>

const char *gd_json_str(json_t *o, const char *key, const char *dflt);
long long gd_json_int(json_t *o, const char *key, long long dflt);

#endif
