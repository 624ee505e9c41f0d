/*
 * A small client of the Docker Engine API over its unix socket (libcurl).
 * Every call checks the HTTP status and parses the body; an answer that is
 * not what the call expects becomes a one-line message naming the request
 * and quoting the engine's own "message".
 */
#ifndef MC_AGENT_DOCKER_API_H
#define MC_AGENT_DOCKER_API_H

#include <stddef.h>

#include <jansson.h>

/* The oldest and newest Engine API versions this client speaks. */
#define DOCKER_API_MIN_VERSION "1.40"
#define DOCKER_API_MAX_VERSION "1.43"

/* Longest JSON answer read, and longest line of a pull's progress. */
#define DOCKER_API_MAX_BODY (8 * 1024 * 1024)
#define DOCKER_API_MAX_LINE (256 * 1024)

struct docker_api;

/* A client of the engine at socket_path. Connects lazily: the version is
 * negotiated (GET /version) by the first call and kept. Never NULL. */
struct docker_api *docker_api_new(const char *socket_path);

void docker_api_free(struct docker_api *api);

/* Closes the connection to the engine, if one is open, and frees what
 * holds it; the next call connects again. For when the agent goes idle. */
void docker_api_disconnect(struct docker_api *api);

/*
 * Sends method path (below the version prefix, e.g. "/containers/json")
 * with body as JSON when not NULL, and waits at most timeout_s. Returns the
 * HTTP status and, in *out (when out is not NULL), the parsed answer or
 * NULL when it was empty; the caller owns *out. Returns -1 with msg set
 * when the engine could not be reached or the answer was not JSON.
 */
int docker_api_call(struct docker_api *api, const char *method,
                    const char *path, json_t *body, int timeout_s, json_t **out,
                    char *msg, size_t msglen);

/*
 * Writes into msg "what: status N: <engine message>" for an answer that
 * was not expected; returns -1 so callers can `return docker_api_fail()`.
 */
int docker_api_fail(const char *what, int status, json_t *answer, char *msg,
                    size_t msglen);

/*
 * Pulls ref ("registry/repo:tag", "repo@sha256:..." or both), reading the
 * streamed progress; an "error" line fails the pull. 0, or -1 with msg.
 */
int docker_api_pull(struct docker_api *api, const char *ref, char *msg,
                    size_t msglen);

/*
 * GETs url (any scheme libcurl speaks) within timeout_ms and returns its
 * HTTP status, or -1 when it could not be fetched. For health probes.
 */
int docker_api_probe(const char *url, int timeout_ms);

#endif
