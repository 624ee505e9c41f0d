#ifndef MC_SEMVER_H
#define MC_SEMVER_H

#include <stdbool.h>
#include <stddef.h>

/* Longest version string accepted; keeps keys bounded for callers. */
#define SEMVER_MAX_LEN 128

/*
 * Tells whether s is a SemVer 2.0.0 version (https://semver.org), exactly
 * per the spec's BNF: MAJOR.MINOR.PATCH, optional "-prerelease", optional
 * "+build". No leading "v", no surrounding whitespace. Additionally rejects
 * strings longer than SEMVER_MAX_LEN and MAJOR/MINOR/PATCH values that do
 * not fit in uint64_t. Numeric prerelease identifiers are not bounded (they
 * are compared by length, never converted).
 * Returns false for NULL.
 */
bool semver_valid(const char *s);

/*
 * Compares the precedence of a and b per section 11 of the spec; build
 * metadata is ignored. Numbers are compared without conversion, so values
 * of any length order correctly.
 * Precondition: semver_valid(a) && semver_valid(b) (asserted).
 * Returns <0 if a < b, 0 if equal precedence, >0 if a > b.
 */
int semver_compare(const char *a, const char *b);

/*
 * Returns the length of s without its "+build" suffix: two valid versions
 * of equal precedence have identical first semver_key_len() bytes.
 * Precondition: s != NULL (asserted); meaningful when semver_valid(s).
 */
size_t semver_key_len(const char *s);

#endif /* MC_SEMVER_H */
