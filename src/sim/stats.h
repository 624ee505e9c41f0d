/*
 * The simulator's counters, the stats file (JSON, rewritten atomically)
 * the benchmarks read, the progress line on a terminal and the summary.
 */
#ifndef MC_SIM_STATS_H
#define MC_SIM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* At most this many arrival and finish times are kept (a few MB). */
#define STATS_TIMES_MAX 1000000

struct stats_times {
    int64_t *ms; /* wall-clock milliseconds since the epoch */
    long len, cap;
};

#define STATS_RATE_SLOTS 5

struct stats {
    int64_t started_ms;
    int64_t mark_ms; /* latencies are from here; 0: the first arrival */
    long agents;     /* simulated */
    long target;     /* agents meant to be online (not --offline) */
    long online;     /* streams open now */
    long connecting; /* connects waiting for their answer */
    long registered;
    int64_t all_online_ms;   /* the last time online reached target */
    int64_t first_online_ms; /* the first time it did */
    long connects;           /* streams that answered 200 */
    long reconnects;         /* of which by an agent that was online before */
    long connect_failures;   /* no answer, or not 200 */
    long http_errors;        /* of which answered, but not 200 */
    long stream_ends;        /* open streams that ended */
    long keepalives;
    long commands; /* distinct commands received */
    long duplicates;
    long acked;
    long in_progress;
    long succeeded;
    long failed;
    long silent;
    long signature_failures;
    long bad_events;
    long reports_ok;
    long report_retries;
    long reports_rejected; /* 4xx: the server refused the transition */
    struct stats_times arrivals;
    struct stats_times finished;
    long rate_hist[STATS_RATE_SLOTS]; /* reports_ok at the last ticks */
    int rate_slot;
    double reports_per_s;
    bool dirty;
};

void stats_init(struct stats *st);
void stats_release(struct stats *st);

void stats_add_time(struct stats_times *t, int64_t ms);

/* Called every interval_ms: updates the rate, rewrites the stats file
 * (when path is not NULL) and the progress line (when tty). */
void stats_tick(struct stats *st, const char *path, long interval_ms, bool tty);

/* Writes the stats file now; final marks the last write. 0 or -1. */
int stats_write(struct stats *st, const char *path, bool final);

/* Prints the human summary. Latencies are from mark_ms, or from the first
 * arrival when it is 0. */
void stats_summary(const struct stats *st, FILE *out);

#endif
