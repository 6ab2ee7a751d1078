/*
 * thread.h — starting the process's background threads, and their timed
 * waits.
 */
#ifndef CHATPAY_UTIL_THREAD_H
#define CHATPAY_UTIL_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread: a process's
 * signals go to the thread that waits for them (sigwait in serve and
 * worker), never to a background thread. Returns pthread_create's result. */
int thread_start_quiet(pthread_t *t, void *(*fn)(void *), void *arg);

/* A condition variable whose timed waits run on CLOCK_MONOTONIC, so that a
 * step of the wall clock (NTP, an operator) neither stalls a waiting thread
 * (a step back) nor wakes it early (a step forward). Returns
 * pthread_cond_init's result. */
int thread_cond_init_mono(pthread_cond_t *cv);

/* The deadline `ms` milliseconds from now for pthread_cond_timedwait on a
 * condition variable made by thread_cond_init_mono. */
struct timespec thread_deadline_mono(long ms);

#endif
