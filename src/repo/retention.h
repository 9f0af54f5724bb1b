/* Moved to src/region (issue 11): include region/retention.h.  This
 * forwarding header keeps older includes compiling; remove it once no file
 * includes it. */
#ifndef GD_REPO_RETENTION_H
#define GD_REPO_RETENTION_H

#include "region/retention.h"

#endif
