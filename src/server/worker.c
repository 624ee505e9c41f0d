#include "server/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct job {
    void (*run)(struct store *s, void *arg);
    void (*done)(void *arg);
    void (*failed)(void *arg); /* set for jobs that may share a commit */
    void *arg;
    struct job *next;
};

/* Small writes waiting together share one commit. */
#define BATCH_MAX 256

struct queue {
    struct job *head, *tail;
};

struct worker {
    struct store *store;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct queue todo; /* guarded by mu */
    struct queue done; /* guarded by mu */
    bool stop;         /* guarded by mu */
    int efd;
    struct event *wake;
    size_t pending; /* loop thread only */
};

static void push(struct queue *q, struct job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

static struct job *take_all(struct queue *q)
{
    struct job *all = q->head;

    q->head = q->tail = NULL;
    return all;
}

/* Takes the next job, and with it the batchable jobs queued right behind
 * a batchable one. Called with mu held. */
static struct job *take(struct worker *w)
{
    struct job *first = w->todo.head, *last = first;
    int n = 1;

    if (first->failed)
        while (last->next && last->next->failed && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
    w->todo.head = last->next;
    if (!w->todo.head)
        w->todo.tail = NULL;
    last->next = NULL;
    return first;
}

/* Runs jobs that may share a commit inside one transaction: each one's own
 * transaction becomes a savepoint. If the shared commit fails, every job
 * of it is told, so that none answers success. */
static void run_batch(struct worker *w, struct job *jobs)
{
    struct err e;
    bool shared = jobs->next && store_begin(w->store, &e) == 0;

    for (struct job *j = jobs; j; j = j->next)
        j->run(w->store, j->arg);
    if (!shared || store_commit(w->store, &e) == 0)
        return;
    store_rollback(w->store);
    log_error("shared commit failed", "error=\"%s\"", e.message);
    for (struct job *j = jobs; j; j = j->next)
        j->failed(j->arg);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t one = 1;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct job *jobs;

        if (!w->todo.head && w->stop)
            break;
        if (!w->todo.head) {
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        jobs = take(w);
        pthread_mutex_unlock(&w->mu);
        run_batch(w, jobs);
        pthread_mutex_lock(&w->mu);
        while (jobs) {
            struct job *next = jobs->next;

            push(&w->done, jobs);
            jobs = next;
        }
        /* The loop drains every finished job per wake-up. */
        if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_error("worker wake-up failed", "errno=%d", errno);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void finish(struct worker *w)
{
    struct job *j;

    pthread_mutex_lock(&w->mu);
    j = take_all(&w->done);
    pthread_mutex_unlock(&w->mu);
    while (j) {
        struct job *next = j->next;

        w->pending--;
        if (j->done)
            j->done(j->arg);
        free(j);
        j = next;
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    uint64_t n;

    (void)what;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_error("worker wake-up read failed", "errno=%d", errno);
    finish(arg);
}

struct worker *worker_new(struct event_base *base, struct store *store)
{
    struct worker *w = xcalloc(1, sizeof(*w));

    w->store = store;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0)
        abort();
    w->wake = event_new(base, w->efd, EV_READ | EV_PERSIST, on_wake, w);
    event_add(w->wake, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        abort();
    return w;
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    finish(w);
    event_free(w->wake);
    close(w->efd);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void worker_submit(struct worker *w, void (*run)(struct store *s, void *arg),
                   void (*done)(void *arg), void *arg)
{
    worker_submit_batch(w, run, done, NULL, arg);
}

void worker_submit_batch(struct worker *w,
                         void (*run)(struct store *s, void *arg),
                         void (*done)(void *arg), void (*failed)(void *arg),
                         void *arg)
{
    struct job *j = xmalloc(sizeof(*j));

    j->run = run;
    j->done = done;
    j->failed = failed;
    j->arg = arg;
    w->pending++;
    pthread_mutex_lock(&w->mu);
    push(&w->todo, j);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

size_t worker_pending(const struct worker *w)
{
    return w->pending;
}
