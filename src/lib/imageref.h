#ifndef MC_IMAGEREF_H
#define MC_IMAGEREF_H

#include <stdbool.h>

/* Longest reference accepted, as the distribution/reference name limit. */
#define IMAGEREF_MAX_LEN 255

/*
 * Tells whether s is a bare tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
 * A bare tag never contains '/', ':' or '@'. Returns false for NULL.
 */
bool imageref_valid_tag(const char *s);

/*
 * Tells whether s is "sha256:" followed by exactly 64 lowercase hex digits.
 * Returns false for NULL.
 */
bool imageref_valid_digest(const char *s);

/*
 * Tells whether s is either a bare tag or a full image reference
 * [domain[:port]/]path[:tag][@digest] (distribution/reference grammar,
 * no IPv6 domains) that pins a tag, a digest or both: a bare repository
 * name such as "pos/app" is rejected, since "latest" is never implied.
 * Rejects strings longer than IMAGEREF_MAX_LEN. Returns false for NULL.
 */
bool imageref_valid(const char *s);

/*
 * Returns a malloc'd reference: "repo:tag_or_ref" if tag_or_ref is a bare
 * tag, else a copy of tag_or_ref. Neither argument is otherwise validated.
 * Precondition: repo and tag_or_ref are not NULL (asserted).
 * Returns NULL on allocation failure; the caller frees the result.
 */
char *imageref_join(const char *repo, const char *tag_or_ref);

#endif /* MC_IMAGEREF_H */
