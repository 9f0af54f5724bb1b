/* Moved to src/region (issue 11): include region/copy.h or region/ship.h.
 * This forwarding header keeps older includes compiling; remove it once no
 * file includes it. */
#ifndef GD_REPO_COPY_H
#define GD_REPO_COPY_H

#include "region/copy.h"
#include "region/ship.h"

#endif
