/* Internal to the HTTP API's operations (api.c, api_restore.c, observe.c):
 * the answers and lookups they share.  Each operation reads its parameters
 * (server/params.h) and returns an HTTP status with *answer set. */
#ifndef GD_SERVER_API_INTERN_H
#define GD_SERVER_API_INTERN_H

#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "server/params.h"
#include "server/server_intern.h"

/* The answer for an operation that failed with e (a status and a code by
 * e's kind: 404, 400, 409, 403, 503, else 500). */
int gd_api_fail(json_t **answer, const gd_err *e);
/* The answer of an operation that started a job of instance name: {JobId,
 * DBInstanceId}, or the error e of a start that failed (rc != 0). */
int gd_api_job_started(json_t **answer, int rc, const char *id, const char *name, const gd_err *e);
/* "yyyy-MM-ddTHH:mm:ssZ" of Unix seconds; of info's "YYYY-MM-DD HH:MM:SS"
 * (null when it is not one). */
json_t *gd_api_time(int64_t s);
json_t *gd_api_time_text(const char *s);
/* The configured instance name, or NULL with a 404 answer. */
gd_inst_rt *gd_api_instance(gd_server *s, const char *name, json_t **answer);
/* Ends the request's parameters and checks that name is a configured
 * instance: 0, or the status of the error answer set. */
int gd_api_begin(gd_server *s, gd_params *p, const char *name, json_t **answer);
/* After how long a Describe's view is read again (seconds; server/view.c). */
#define GD_API_VIEW_MAX_AGE_S 2.0
/* The info document of one instance (command/info.h), or an error answer
 * (its status returned): gd_server_info_doc (a configured instance's from
 * its view, server/view.c; a released one's read now). */
int gd_api_doc(gd_server *s, const char *name, json_t **doc, json_t **answer);
/* The part of doc for region (NULL: home), or NULL with a 404 answer. */
json_t *gd_api_region(json_t *doc, const char *region, json_t **answer);

int gd_api_create_ddr_instance(gd_server *s, gd_params *p, json_t **answer);
int gd_api_check_create_ddr_db_instance(gd_server *s, gd_params *p, json_t **answer);
int gd_api_restore_ddr_table(gd_server *s, gd_params *p, json_t **answer);
int gd_api_describe_policy(gd_server *s, gd_params *p, json_t **answer);
int gd_api_modify_policy(gd_server *s, gd_params *p, json_t **answer);
int gd_api_release_instance(gd_server *s, gd_params *p, json_t **answer);
int gd_api_describe_meta_list(gd_server *s, gd_params *p, json_t **answer);
int gd_api_describe_log_files(gd_server *s, gd_params *p, json_t **answer);
int gd_api_describe_server_status(gd_server *s, gd_params *p, json_t **answer);
int gd_api_create_restore_drill(gd_server *s, gd_params *p, json_t **answer);

#endif
