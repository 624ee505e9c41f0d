/*
 * The database worker: one thread that owns the store. The event loop
 * hands it jobs and gets each job's completion back on the loop, in the
 * order the jobs ran, so no stream, keep-alive or push ever waits on a
 * query. Jobs run one at a time, which is also what keeps the store's
 * transactions apart.
 */
#ifndef MC_SERVER_WORKER_H
#define MC_SERVER_WORKER_H

#include <stddef.h>

#include <event2/event.h>

#include "store/store.h"

struct worker;

/* Starts the thread; from now on only jobs may touch store. */
struct worker *worker_new(struct event_base *base, struct store *store);

/* Runs every job still queued, joins the thread, and calls the done
 * callbacks of what ran. */
void worker_free(struct worker *w);

/* Runs run(store, arg) on the worker, then done(arg) on the loop; done may
 * be NULL. Loop thread only. */
void worker_submit(struct worker *w, void (*run)(struct store *s, void *arg),
                   void (*done)(void *arg), void *arg);

/* Like worker_submit, for a small write that may share its commit with
 * the batchable jobs queued next to it (each job's own transaction then
 * runs as a savepoint). If that shared commit fails, failed(arg) runs on
 * the worker before done(arg). */
void worker_submit_batch(struct worker *w,
                         void (*run)(struct store *s, void *arg),
                         void (*done)(void *arg), void (*failed)(void *arg),
                         void *arg);

/* Jobs submitted whose done has not run yet. Loop thread only. */
size_t worker_pending(const struct worker *w);

#endif
