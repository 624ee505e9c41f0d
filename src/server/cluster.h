/*
 * Several mcd on one database: each instance beats in the store, and on
 * PostgreSQL listens for what the others announce (new commands, streams
 * that moved, nodes decommissioned), so a deploy through one instance
 * reaches a stream held by another at once. No clustering of our own: the
 * database is the only shared thing.
 */
#ifndef MC_SERVER_CLUSTER_H
#define MC_SERVER_CLUSTER_H

struct server;
struct cluster;

/* Starts the heartbeat and, when the store is shared, the listener on
 * db_url. */
struct cluster *cluster_new(struct server *srv, const char *db_url);
void cluster_free(struct cluster *c);

#endif
