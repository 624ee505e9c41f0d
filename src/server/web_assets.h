/*
 * The web dashboard's files, built into mcd: scripts/embed-web.cmake
 * generates the table from web/ and node_modules/ at build time.
 */
#ifndef MC_SERVER_WEB_ASSETS_H
#define MC_SERVER_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path; /* the URL path: "/dashboard/assets/app.js" */
    const char *type; /* Content-Type */
    const char *etag; /* quoted, from the content's SHA-256 */
    const unsigned char *data;
    size_t len;
};

/*
 * Ended by an entry with a NULL path. Weak so that mcd still links when
 * the build does not generate the table (a build directory configured
 * before the embedding step existed): web_assets is then NULL and the
 * dashboard answers 503 instead of breaking every other target.
 */
extern const struct web_asset web_assets[] __attribute__((weak));

#endif
