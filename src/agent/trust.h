/*
 * Which certificate authorities libcurl trusts for an https server.
 */
#ifndef MC_AGENT_TRUST_H
#define MC_AGENT_TRUST_H

#include <curl/curl.h>

/*
 * Sets h to trust the certificates of ca_file, or, when ca_file is NULL,
 * the system's. The system's are read from libcurl's CA directory
 * (/etc/ssl/certs on Debian: one file per CA, found by its subject's hash
 * during the handshake) when libcurl has one, not from its CA bundle,
 * which every connection would parse whole and keep for as long as it
 * lasts: about 140 certificates, 0.7 MiB.
 */
void trust_apply(CURL *h, const char *ca_file);

#endif
