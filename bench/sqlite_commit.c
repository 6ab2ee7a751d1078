/*
 * sqlite_commit.c — the reference for write benchmarks: how many durable
 * one-row transactions SQLite commits per second on this machine, with the
 * settings chatpay uses (WAL, synchronous=FULL), from `threads` threads each
 * with its own connection, for `seconds` seconds.
 *
 *   build/bench/sqlite_commit DIR [seconds] [threads]
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char path[4096];
static double seconds = 5;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *writer(void *arg)
{
    long *count = arg;
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return NULL;
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO t (v, at) VALUES (?, ?)", -1, &ins, NULL);
    double end = now_s() + seconds;
    while (now_s() < end) {
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            continue;
        sqlite3_bind_text(ins, 1,
                          "a payment link row of typical size, about one hundred bytes "
                          "of text to write each time",
                          -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, (sqlite3_int64)(*count));
        sqlite3_step(ins);
        sqlite3_reset(ins);
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
            (*count)++;
        else
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sqlite_commit DIR [seconds] [threads]\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/commit.db", argv[1]);
    if (argc > 2)
        seconds = strtod(argv[2], NULL);
    int threads = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 2;
    if (threads < 1 || threads > 64 || seconds <= 0 || seconds > 600)
        return 2;
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return 1;
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY "
                 "KEY, v TEXT, at INTEGER)",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    pthread_t t[64];
    long counts[64] = {0};
    double start = now_s();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, writer, &counts[i]);
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += counts[i];
    }
    printf("%.0f\n", (double)total / (now_s() - start));
    return 0;
}
